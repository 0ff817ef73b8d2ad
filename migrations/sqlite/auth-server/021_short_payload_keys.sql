-- The top-level fields of grant, authorization code and refresh token payloads are stored under
-- one-letter names (apps/auth-server/src/provider/stored-payload-keys.ts says which, and what it
-- saves); this renames them in the rows stored before. Any other field keeps its name. `->` gives
-- each value as JSON, so strings, numbers, booleans and objects keep their type.
UPDATE oidc_models SET payload = (
  SELECT json_group_object(CASE key
      WHEN 'iat' THEN 'i' WHEN 'exp' THEN 'e' WHEN 'iiat' THEN 'f' WHEN 'authTime' THEN 'a'
      WHEN 'gty' THEN 'g' WHEN 'resource' THEN 'r' WHEN 'rotations' THEN 'n' WHEN 'scope' THEN 's'
      WHEN 'codeChallenge' THEN 'c' WHEN 'codeChallengeMethod' THEN 'm' WHEN 'redirectUri' THEN 'u'
      WHEN 'openid' THEN 'o' WHEN 'resources' THEN 'R' ELSE key END,
    oidc_models.payload -> fullkey)
  FROM json_each(oidc_models.payload))
WHERE model IN ('G', 'C', 'R');
