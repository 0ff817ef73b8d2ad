-- A grant's, code's or refresh token's `exp` (stored as 'e') is left out of its payload when the
-- row's expires_at holds the same second, and read back from it
-- (apps/auth-server/src/provider/stored-form.ts says why they agree, and what it saves); this
-- drops it from the rows stored before.
UPDATE oidc_models SET payload = json_remove(payload, '$.e')
WHERE model IN ('G', 'C', 'R') AND payload ->> '$.e' = expires_at;
