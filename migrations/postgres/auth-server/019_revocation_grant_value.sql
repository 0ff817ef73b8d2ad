-- As on SQLite (migrations/sqlite/auth-server/025_revocation_grant_value.sql): a `token` entry's
-- grant, hashed, to count a grant's token entries; never published.
ALTER TABLE revocations ADD COLUMN grant_value TEXT;
CREATE INDEX revocations_value ON revocations (value);
CREATE INDEX revocations_grant_value ON revocations (grant_value) WHERE grant_value IS NOT NULL;
