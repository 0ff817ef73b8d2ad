-- As on SQLite (migrations/sqlite/auth-server/014_short_hashed_ids.sql): rows keyed by a hashed
-- bearer id keep its first 22 base64url characters (132 bits); rows an earlier version stored
-- with the raw id (their payload still has `jti`) are left for the one-time conversion. An escaped
-- U+0000 in a value is read as U+FFFD, as in 015_short_payload_keys.sql.
UPDATE oidc_models SET id = left(id, 22)
  WHERE model IN ('AuthorizationCode', 'RefreshToken', 'AccessToken', 'ClientCredentials', 'Session',
      'RegistrationAccessToken', 'InitialAccessToken', 'DeviceCode', 'BackchannelAuthenticationRequest',
      'PushedAuthorizationRequest')
    AND length(id) = 43 AND (regexp_replace(payload, '(?<!\\)((?:\\\\)*)\\u0000', '\1\\ufffd', 'g')::jsonb ->> 'jti') IS NULL;
