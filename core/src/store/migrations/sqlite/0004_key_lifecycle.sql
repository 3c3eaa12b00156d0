-- authgate schema v4: the API-key lifecycle beyond Scalekit (issue #13).
--
-- revoked_at may now lie in the future: a rotated key is revoked when its grace period ends
-- (its expiry is set to the same instant). A key is revoked when revoked_at <= now.
-- rotated_from / rotated_to link the two keys of a rotation (apit_ ids, no foreign key: a
-- deleted organization takes both with it).
-- last_used_time is written by a coalesced flush (Unix ms), never per validation.
-- allowed_cidrs is a JSON array of CIDR blocks (NULL: any address); rate_limit / rate_window
-- (seconds) a per-key limit of validations per window (NULL: none).
ALTER TABLE authgate_api_keys ADD COLUMN rotated_from TEXT;
ALTER TABLE authgate_api_keys ADD COLUMN rotated_to TEXT;
ALTER TABLE authgate_api_keys ADD COLUMN last_used_time INTEGER;
ALTER TABLE authgate_api_keys ADD COLUMN allowed_cidrs TEXT;
ALTER TABLE authgate_api_keys ADD COLUMN rate_limit INTEGER;
ALTER TABLE authgate_api_keys ADD COLUMN rate_window INTEGER;
