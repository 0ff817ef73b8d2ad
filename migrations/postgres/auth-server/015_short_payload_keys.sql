-- As on SQLite (migrations/sqlite/auth-server/021_short_payload_keys.sql): the top-level fields
-- of grant, authorization code and refresh token payloads are renamed to their one-letter names;
-- any other field keeps its name. An empty payload stays '{}' (jsonb_object_agg of no rows is NULL).
-- An escaped U+0000 in a value (a code's nonce=%00), which jsonb refuses, is read as U+FFFD, as the
-- adapter's consume reads it (POSTGRES_PAYLOAD_AS_JSONB in database-adapter.ts): the cast failed, and
-- with it the migration and every start after it.
UPDATE oidc_models SET payload = coalesce((
  SELECT jsonb_object_agg(CASE key
      WHEN 'iat' THEN 'i' WHEN 'exp' THEN 'e' WHEN 'iiat' THEN 'f' WHEN 'authTime' THEN 'a'
      WHEN 'gty' THEN 'g' WHEN 'resource' THEN 'r' WHEN 'rotations' THEN 'n' WHEN 'scope' THEN 's'
      WHEN 'codeChallenge' THEN 'c' WHEN 'codeChallengeMethod' THEN 'm' WHEN 'redirectUri' THEN 'u'
      WHEN 'openid' THEN 'o' WHEN 'resources' THEN 'R' ELSE key END,
    value)
  FROM jsonb_each(regexp_replace(oidc_models.payload, '(?<!\\)((?:\\\\)*)\\u0000', '\1\\ufffd', 'g')::jsonb))::text, '{}')
WHERE model IN ('G', 'C', 'R');
