-- authgate schema v7 (PostgreSQL): invalidation notifications for the validation cache (issue #14).
--
-- Every process holding a validation cache LISTENs on the channel `authgate_keys`. Each change
-- that can alter the answer of an API-key validation notifies, from a trigger, in the writing
-- transaction itself (so the notification is delivered exactly when the change commits, and no
-- code path, the CLI, a migration or a hand-written UPDATE included, can forget it):
--   'k:<hex digest>'  drop what is cached for that key digest (positive or negative entry);
--   'flush'           drop everything (bulk changes: settings, TRUNCATE, many keys at once).
-- A key's last-use bookkeeping (last_used_time, written by the usage flush) changes no answer
-- and does not notify. No secret is ever in a payload: a digest is what the table stores.

CREATE FUNCTION authgate_notify_keys_of(org TEXT, usr TEXT) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    n BIGINT;
BEGIN
    SELECT count(*) INTO n FROM authgate_api_keys
     WHERE (org IS NULL OR organization_id = org) AND (usr IS NULL OR user_id = usr);
    IF n > 256 THEN
        PERFORM pg_notify('authgate_keys', 'flush');
    ELSIF n > 0 THEN
        PERFORM pg_notify('authgate_keys', 'k:' || encode(digest, 'hex'))
           FROM authgate_api_keys
          WHERE (org IS NULL OR organization_id = org) AND (usr IS NULL OR user_id = usr);
    END IF;
END $$;

CREATE FUNCTION authgate_api_keys_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (to_jsonb(OLD) - 'last_used_time') = (to_jsonb(NEW) - 'last_used_time') THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM pg_notify('authgate_keys', 'k:' || encode(OLD.digest, 'hex'));
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.digest IS DISTINCT FROM OLD.digest) THEN
        PERFORM pg_notify('authgate_keys', 'k:' || encode(NEW.digest, 'hex'));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER authgate_api_keys_notify AFTER INSERT OR UPDATE OR DELETE ON authgate_api_keys
    FOR EACH ROW EXECUTE FUNCTION authgate_api_keys_notify();

-- A validation answers with the user's email and external id.
CREATE FUNCTION authgate_users_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM authgate_notify_keys_of(NULL, OLD.id);
    RETURN NULL;
END $$;
CREATE TRIGGER authgate_users_notify AFTER UPDATE OR DELETE ON authgate_users
    FOR EACH ROW EXECUTE FUNCTION authgate_users_notify();

-- ... with the roles of the key's user in the key's organization.
CREATE FUNCTION authgate_memberships_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM authgate_notify_keys_of(OLD.organization_id, OLD.user_id);
    IF TG_OP = 'UPDATE' THEN
        PERFORM authgate_notify_keys_of(NEW.organization_id, NEW.user_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER authgate_memberships_notify AFTER UPDATE OR DELETE ON authgate_memberships
    FOR EACH ROW EXECUTE FUNCTION authgate_memberships_notify();

-- ... with the organization's external id; a deleted organization takes its keys with it
-- (their own rows notify too, as the cascade deletes them), here in one message.
CREATE FUNCTION authgate_organizations_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('authgate_keys', 'flush');
    ELSE
        PERFORM authgate_notify_keys_of(OLD.id, NULL);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER authgate_organizations_notify AFTER UPDATE OR DELETE ON authgate_organizations
    FOR EACH ROW EXECUTE FUNCTION authgate_organizations_notify();

-- Settings (the digest scheme, a pepper fingerprint) and bulk deletions: drop everything.
CREATE FUNCTION authgate_flush_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('authgate_keys', 'flush');
    RETURN NULL;
END $$;
CREATE TRIGGER authgate_meta_notify AFTER INSERT OR UPDATE OR DELETE ON authgate_meta
    FOR EACH STATEMENT EXECUTE FUNCTION authgate_flush_notify();
CREATE TRIGGER authgate_api_keys_truncate AFTER TRUNCATE ON authgate_api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION authgate_flush_notify();
CREATE TRIGGER authgate_users_truncate AFTER TRUNCATE ON authgate_users
    FOR EACH STATEMENT EXECUTE FUNCTION authgate_flush_notify();
CREATE TRIGGER authgate_memberships_truncate AFTER TRUNCATE ON authgate_memberships
    FOR EACH STATEMENT EXECUTE FUNCTION authgate_flush_notify();
CREATE TRIGGER authgate_organizations_truncate AFTER TRUNCATE ON authgate_organizations
    FOR EACH STATEMENT EXECUTE FUNCTION authgate_flush_notify();

-- The keys of a user, found by the user triggers above.
CREATE INDEX authgate_api_keys_user ON authgate_api_keys (user_id);
