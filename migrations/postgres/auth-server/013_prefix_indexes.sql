-- As on SQLite (migrations/sqlite/auth-server/019_prefix_indexes.sql): the grant-id index and the
-- grants' account and client indexes hold the first 8 characters of the id; queries compare the
-- prefix and then the whole id (apps/auth-server/src/provider/prefix-index.ts).
DROP INDEX oidc_models_grant_id;
DROP INDEX oidc_models_grant_account;
DROP INDEX oidc_models_grant_client;
CREATE INDEX oidc_models_grant_id ON oidc_models (substr(grant_id, 1, 8)) WHERE grant_id IS NOT NULL;
CREATE INDEX oidc_models_grant_account ON oidc_models (substr(account_id, 1, 8)) WHERE model = 'Grant';
CREATE INDEX oidc_models_grant_client ON oidc_models (substr(client_id, 1, 8)) WHERE model = 'Grant';
