-- The account and client columns are asked about only for grants (the admin pages, "revoke
-- this user's or this client's grants") and for sessions by account (ending a user's sessions):
-- indexes on exactly those rows, instead of on every code and refresh token too. Each refresh
-- token (live or a consumed tombstone) then costs two index entries (grant, expiry) instead of
-- four. Every query on them names its model as a literal, so the planner uses these.
DROP INDEX oidc_models_account_id;
DROP INDEX oidc_models_client_id;
CREATE INDEX oidc_models_grant_account ON oidc_models (account_id) WHERE model = 'Grant';
CREATE INDEX oidc_models_grant_client ON oidc_models (client_id) WHERE model = 'Grant';
CREATE INDEX oidc_models_session_account ON oidc_models (account_id) WHERE model = 'Session';
