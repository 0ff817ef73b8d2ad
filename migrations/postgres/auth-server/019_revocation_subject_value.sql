-- As on SQLite (migrations/sqlite/auth-server/025_revocation_subject_value.sql): a `token` entry's
-- account (its token's sub), hashed, to count an account's token entries; never published.
ALTER TABLE revocations ADD COLUMN subject_value TEXT;
CREATE INDEX revocations_value ON revocations (value);
CREATE INDEX revocations_subject_value ON revocations (subject_value) WHERE subject_value IS NOT NULL;
