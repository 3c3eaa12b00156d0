-- authgate schema v1 (PostgreSQL). Keep in step with ../sqlite/0001_init.sql: same tables, same columns.
-- Timestamps: integer Unix milliseconds. JSON: TEXT. Digests: BYTEA. `seq` orders rows for paging.

CREATE TABLE authgate_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE authgate_organizations (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    display_name TEXT    NOT NULL,
    external_id  TEXT    UNIQUE,
    create_time  BIGINT  NOT NULL,
    update_time  BIGINT  NOT NULL
);

CREATE TABLE authgate_users (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT    NOT NULL UNIQUE,
    email       TEXT    NOT NULL UNIQUE,
    external_id TEXT,
    create_time BIGINT  NOT NULL,
    update_time BIGINT  NOT NULL
);

CREATE TABLE authgate_memberships (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id TEXT    NOT NULL REFERENCES authgate_organizations (id) ON DELETE CASCADE,
    user_id         TEXT    NOT NULL REFERENCES authgate_users (id) ON DELETE CASCADE,
    roles           TEXT    NOT NULL,
    create_time     BIGINT  NOT NULL,
    UNIQUE (organization_id, user_id)
);
CREATE INDEX authgate_memberships_user ON authgate_memberships (user_id);

CREATE TABLE authgate_api_keys (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,
    digest          BYTEA   NOT NULL UNIQUE,
    organization_id TEXT    NOT NULL REFERENCES authgate_organizations (id) ON DELETE CASCADE,
    user_id         TEXT,
    custom_claims   TEXT    NOT NULL,
    description     TEXT,
    token_suffix    TEXT    NOT NULL,
    expiry          BIGINT,
    create_time     BIGINT  NOT NULL,
    update_time     BIGINT  NOT NULL,
    revoked_at      BIGINT,
    FOREIGN KEY (organization_id, user_id)
        REFERENCES authgate_memberships (organization_id, user_id) ON DELETE CASCADE
);
CREATE INDEX authgate_api_keys_org ON authgate_api_keys (organization_id, seq);
CREATE INDEX authgate_api_keys_org_user ON authgate_api_keys (organization_id, user_id, seq);

CREATE TABLE authgate_m2m_clients (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,
    organization_id TEXT    NOT NULL REFERENCES authgate_organizations (id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    description     TEXT    NOT NULL,
    scopes          TEXT    NOT NULL,
    audience        TEXT    NOT NULL,
    custom_claims   TEXT    NOT NULL,
    expiry          BIGINT  NOT NULL,
    create_time     BIGINT  NOT NULL,
    update_time     BIGINT  NOT NULL
);
CREATE INDEX authgate_m2m_clients_org ON authgate_m2m_clients (organization_id, seq);

CREATE TABLE authgate_client_secrets (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id             TEXT    NOT NULL UNIQUE,
    client_id      TEXT    NOT NULL REFERENCES authgate_m2m_clients (id) ON DELETE CASCADE,
    digest         BYTEA   NOT NULL UNIQUE,
    secret_suffix  TEXT    NOT NULL,
    create_time    BIGINT  NOT NULL,
    update_time    BIGINT  NOT NULL,
    last_used_time BIGINT
);
CREATE INDEX authgate_client_secrets_client ON authgate_client_secrets (client_id, seq);

CREATE TABLE authgate_environment_clients (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id             TEXT    NOT NULL UNIQUE,
    digest         BYTEA   NOT NULL,
    secret_suffix  TEXT    NOT NULL,
    create_time    BIGINT  NOT NULL,
    update_time    BIGINT  NOT NULL,
    last_used_time BIGINT
);

CREATE TABLE authgate_signing_keys (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kid         TEXT    NOT NULL UNIQUE,
    algorithm   TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('pending', 'active', 'published', 'retired')),
    encryption  TEXT    NOT NULL CHECK (encryption IN ('none', 'aes-256-gcm')),
    private_key BYTEA   NOT NULL,
    public_jwk  TEXT    NOT NULL,
    create_time BIGINT  NOT NULL,
    -- When it becomes (pending) or became the active key.
    activate_at BIGINT  NOT NULL,
    retired_at  BIGINT
);
-- At most one active key, whatever the number of processes rotating at once.
CREATE UNIQUE INDEX authgate_signing_keys_one_active ON authgate_signing_keys (state) WHERE state = 'active';
-- At most one pending key (published ahead of its activation, see the authority docs).
CREATE UNIQUE INDEX authgate_signing_keys_one_pending ON authgate_signing_keys (state) WHERE state = 'pending';
