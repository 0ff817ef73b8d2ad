-- A grant's `rejected` field (the scopes a consent did not grant) is stored as `x`, like the
-- other fields of migration 021 (apps/auth-server/src/provider/stored-payload-keys.ts). Grants
-- hold it since consent rejects, in their OpenID part, the MCP scopes it settles per resource;
-- this renames it in the grants stored before with it under its own name.
UPDATE oidc_models SET payload = json_remove(json_set(payload, '$.x', payload -> '$.rejected'), '$.rejected')
WHERE model = 'G' AND json_type(payload, '$.rejected') IS NOT NULL;
