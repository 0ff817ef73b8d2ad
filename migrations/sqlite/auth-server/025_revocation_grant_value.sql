-- A `token` entry's grant (its token's gid, hashed as a `grant` entry names it), so the feed can
-- count a grant's token entries and publish one cut-off for the grant past a cap
-- (apps/auth-server/src/revocation/revocation-feed.ts, revokeToken). Never published; NULL on
-- every other entry. The indexes serve that count and the look-up of a value before it is recorded.
ALTER TABLE revocations ADD COLUMN grant_value TEXT;
CREATE INDEX revocations_value ON revocations (value);
CREATE INDEX revocations_grant_value ON revocations (grant_value) WHERE grant_value IS NOT NULL;
