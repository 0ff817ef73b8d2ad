-- Rows keyed by a hashed bearer id keep its first 22 base64url characters (132 bits) instead of
-- all 43 (apps/auth-server/src/provider/stored-form.ts says why that is enough): 21 bytes less
-- in each such row and again in its (model, id) index entry. Rows an earlier version stored with
-- the raw id (their payload still has `jti`) are left for the one-time conversion, which hashes
-- them in the new form.
UPDATE oidc_models SET id = substr(id, 1, 22)
  WHERE model IN ('AuthorizationCode', 'RefreshToken', 'AccessToken', 'ClientCredentials', 'Session',
      'RegistrationAccessToken', 'InitialAccessToken', 'DeviceCode', 'BackchannelAuthenticationRequest',
      'PushedAuthorizationRequest')
    AND length(id) = 43 AND json_extract(payload, '$.jti') IS NULL;
