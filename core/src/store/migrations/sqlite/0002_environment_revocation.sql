-- authgate schema v2 (SQLite): environment credentials can be revoked. Keep in step with
-- ../postgres/0002_environment_revocation.sql.
-- A revoked environment client keeps its row (a tombstone, as API keys do): it can no longer
-- obtain tokens, and tokens it already holds are refused by the management API.
ALTER TABLE authgate_environment_clients ADD COLUMN revoked_at INTEGER;
