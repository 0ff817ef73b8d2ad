-- What code other than the oidc-provider adapter asks about a stored model (whose account, which
-- client) becomes real columns, so only the adapter reads the provider's payload format.
ALTER TABLE oidc_models ADD COLUMN account_id TEXT;
ALTER TABLE oidc_models ADD COLUMN client_id TEXT;
UPDATE oidc_models SET
  account_id = json_extract(payload, '$.accountId'),
  client_id = CASE WHEN model = 'Client' THEN id ELSE json_extract(payload, '$.clientId') END;
CREATE INDEX oidc_models_account_id ON oidc_models (account_id, model) WHERE account_id IS NOT NULL;
CREATE INDEX oidc_models_client_id ON oidc_models (client_id, model) WHERE client_id IS NOT NULL;
-- Usernames are compared as lower(username) on both backends.
CREATE INDEX users_username_lower ON users (lower(username));
