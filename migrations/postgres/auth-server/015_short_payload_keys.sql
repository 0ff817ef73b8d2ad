-- As on SQLite (migrations/sqlite/auth-server/021_short_payload_keys.sql): the top-level fields
-- of grant, authorization code and refresh token payloads are renamed to their one-letter names;
-- any other field keeps its name. An empty payload stays '{}' (jsonb_object_agg of no rows is NULL).
UPDATE oidc_models SET payload = coalesce((
  SELECT jsonb_object_agg(CASE key
      WHEN 'iat' THEN 'i' WHEN 'exp' THEN 'e' WHEN 'iiat' THEN 'f' WHEN 'authTime' THEN 'a'
      WHEN 'gty' THEN 'g' WHEN 'resource' THEN 'r' WHEN 'rotations' THEN 'n' WHEN 'scope' THEN 's'
      WHEN 'codeChallenge' THEN 'c' WHEN 'codeChallengeMethod' THEN 'm' WHEN 'redirectUri' THEN 'u'
      WHEN 'openid' THEN 'o' WHEN 'resources' THEN 'R' ELSE key END,
    value)
  FROM jsonb_each(oidc_models.payload::jsonb))::text, '{}')
WHERE model IN ('G', 'C', 'R');
