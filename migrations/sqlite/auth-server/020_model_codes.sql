-- Grants, authorization codes and refresh tokens are stored under a one-letter model code ('G',
-- 'C', 'R') instead of the model's name, in the row and in its (model, id) index entry
-- (apps/auth-server/src/provider/stored-model.ts says what it saves). Other models keep their
-- name. The grants' partial indexes name the model, so they are made again with the code.
DROP INDEX oidc_models_grant_account;
DROP INDEX oidc_models_grant_client;
UPDATE oidc_models SET model = CASE model WHEN 'Grant' THEN 'G' WHEN 'AuthorizationCode' THEN 'C' ELSE 'R' END
  WHERE model IN ('Grant', 'AuthorizationCode', 'RefreshToken');
CREATE INDEX oidc_models_grant_account ON oidc_models (substr(account_id, 1, 8)) WHERE model = 'G';
CREATE INDEX oidc_models_grant_client ON oidc_models (substr(client_id, 1, 8)) WHERE model = 'G';
