-- As on SQLite (migrations/sqlite/auth-server/020_model_codes.sql): grants, authorization codes
-- and refresh tokens are stored under a one-letter model code ('G', 'C', 'R'); the grants'
-- partial indexes are made again with the code.
DROP INDEX oidc_models_grant_account;
DROP INDEX oidc_models_grant_client;
UPDATE oidc_models SET model = CASE model WHEN 'Grant' THEN 'G' WHEN 'AuthorizationCode' THEN 'C' ELSE 'R' END
  WHERE model IN ('Grant', 'AuthorizationCode', 'RefreshToken');
CREATE INDEX oidc_models_grant_account ON oidc_models (substr(account_id, 1, 8)) WHERE model = 'G';
CREATE INDEX oidc_models_grant_client ON oidc_models (substr(client_id, 1, 8)) WHERE model = 'G';
