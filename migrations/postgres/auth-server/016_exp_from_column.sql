-- As on SQLite (migrations/sqlite/auth-server/022_exp_from_column.sql): a grant's, code's or
-- refresh token's `exp` ('e') is dropped from its payload where the row's expires_at holds the
-- same second.
UPDATE oidc_models SET payload = (payload::jsonb - 'e')::text
WHERE model IN ('G', 'C', 'R') AND payload::jsonb -> 'e' = to_jsonb(expires_at);
