-- The account (a token's sub, hashed as a `sub` entry names it) of a `token` entry and of a grant's
-- cut-off written past the cap, so the feed can count an account's entries, whatever its grants and
-- clients, and publish one cut-off for a grant, or for the account, past its caps
-- (apps/auth-server/src/revocation/revocation-feed.ts, revokeToken). Never published; NULL on every
-- other entry. The indexes serve that count and the look-up of a value before it is recorded.
ALTER TABLE revocations ADD COLUMN subject_value TEXT;
CREATE INDEX revocations_value ON revocations (value);
CREATE INDEX revocations_subject_value ON revocations (subject_value) WHERE subject_value IS NOT NULL;
