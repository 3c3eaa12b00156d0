-- authgate schema v2: look users up by external id (GetUser/UpdateUser/DeleteUser and the
-- membership calls by external id). Not UNIQUE, so stores written before v2 migrate whatever they
-- hold; uniqueness of new external ids is checked by the writes, under a lock.
CREATE INDEX authgate_users_external_id ON authgate_users (external_id);
