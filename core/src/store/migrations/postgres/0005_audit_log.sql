-- authgate schema v5: the audit log. One row per management action (written in the action's own
-- transaction) and per refused management authentication. No foreign keys: an event outlives
-- what it names (a deleted organization's events stay until the retention prunes them). Never a
-- secret, key or token: ids, the actor, the caller's address and the outcome only.
CREATE TABLE authgate_audit_events (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,
    time            BIGINT  NOT NULL,
    actor           TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    organization_id TEXT,
    target_ids      TEXT    NOT NULL,
    source_address  TEXT,
    outcome         TEXT    NOT NULL,
    error_code      TEXT
);
CREATE INDEX authgate_audit_events_time ON authgate_audit_events (time);
CREATE INDEX authgate_audit_events_org ON authgate_audit_events (organization_id, seq);
CREATE INDEX authgate_audit_events_actor ON authgate_audit_events (actor, seq);
