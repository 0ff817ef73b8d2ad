-- As on SQLite (migrations/sqlite/auth-server/014_short_hashed_ids.sql): rows keyed by a hashed
-- bearer id keep its first 22 base64url characters (132 bits); rows an earlier version stored
-- with the raw id (their payload still has `jti`) are left for the one-time conversion.
UPDATE oidc_models SET id = left(id, 22)
  WHERE model IN ('AuthorizationCode', 'RefreshToken', 'AccessToken', 'ClientCredentials', 'Session',
      'RegistrationAccessToken', 'InitialAccessToken', 'DeviceCode', 'BackchannelAuthenticationRequest',
      'PushedAuthorizationRequest')
    AND length(id) = 43 AND (payload::jsonb ->> 'jti') IS NULL;
