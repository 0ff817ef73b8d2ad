-- The grant-id index, and the grants' account and client indexes, hold the first 8 characters of
-- the id instead of the whole (43 characters for grant and client ids, 36 for accounts): about 130
-- bytes less per issued-and-refreshed grant (each refresh token, live or consumed, has an entry in
-- the first). Queries compare the prefix and then the whole id
-- (apps/auth-server/src/provider/prefix-index.ts).
DROP INDEX oidc_models_grant_id;
DROP INDEX oidc_models_grant_account;
DROP INDEX oidc_models_grant_client;
CREATE INDEX oidc_models_grant_id ON oidc_models (substr(grant_id, 1, 8)) WHERE grant_id IS NOT NULL;
CREATE INDEX oidc_models_grant_account ON oidc_models (substr(account_id, 1, 8)) WHERE model = 'Grant';
CREATE INDEX oidc_models_grant_client ON oidc_models (substr(client_id, 1, 8)) WHERE model = 'Grant';
