-- As on SQLite (migrations/sqlite/auth-server/025_revocation_subject_value.sql): the account (a
-- token's sub), hashed, of a `token` entry and of a grant's cut-off past the cap, to count an
-- account's entries; never published.
ALTER TABLE revocations ADD COLUMN subject_value TEXT;
CREATE INDEX revocations_value ON revocations (value);
CREATE INDEX revocations_subject_value ON revocations (subject_value) WHERE subject_value IS NOT NULL;
