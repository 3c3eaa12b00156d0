-- authgate schema v6: the shared budgets of per-key rate limits (issue #13).
--
-- One row per rate-limited key and fixed window (window_start: Unix ms, aligned to the epoch):
-- 'used' counts the validations the nodes sharing this database have taken from the window's
-- budget. Nodes take budget in leases of several validations, so a validation writes here at
-- most once per lease, never once per request. Rows of past windows are deleted when the key's
-- next window opens; a deleted key's rows go with it.
CREATE TABLE authgate_rate_windows (
    key_id       TEXT   NOT NULL REFERENCES authgate_api_keys (id) ON DELETE CASCADE,
    window_start BIGINT NOT NULL,
    used         BIGINT NOT NULL,
    PRIMARY KEY (key_id, window_start)
);
