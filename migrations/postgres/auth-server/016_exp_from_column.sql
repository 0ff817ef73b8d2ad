-- As on SQLite (migrations/sqlite/auth-server/022_exp_from_column.sql): a grant's, code's or
-- refresh token's `exp` ('e') is dropped from its payload where the row's expires_at holds the
-- same second. An escaped U+0000 in a value is read as U+FFFD, as in 015_short_payload_keys.sql.
UPDATE oidc_models SET payload = (regexp_replace(payload, '(?<!\\)((?:\\\\)*)\\u0000', '\1\\ufffd', 'g')::jsonb - 'e')::text
WHERE model IN ('G', 'C', 'R') AND regexp_replace(payload, '(?<!\\)((?:\\\\)*)\\u0000', '\1\\ufffd', 'g')::jsonb -> 'e' = to_jsonb(expires_at);
