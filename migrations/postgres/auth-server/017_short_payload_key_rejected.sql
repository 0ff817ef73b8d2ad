-- As on SQLite (migrations/sqlite/auth-server/023_short_payload_key_rejected.sql): a grant's
-- `rejected` field is stored as `x`. Only grants holding it are read as JSON (the LIKE first), so
-- no other row's payload is cast.
UPDATE oidc_models SET payload = ((payload::jsonb - 'rejected') || jsonb_build_object('x', payload::jsonb -> 'rejected'))::text
WHERE model = 'G' AND payload LIKE '%"rejected"%' AND payload::jsonb ? 'rejected';
