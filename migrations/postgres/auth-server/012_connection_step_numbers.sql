-- As on SQLite (migrations/sqlite/auth-server/018_connection_step_numbers.sql): a step is stored
-- as its number and a grant id once, in connection_values.
ALTER TABLE connection_events
  ADD COLUMN step_number SMALLINT,
  ADD COLUMN grant_ref BIGINT;
INSERT INTO connection_values (value, last_at)
  SELECT grant_id, max(at) FROM connection_events WHERE grant_id IS NOT NULL GROUP BY grant_id
  ON CONFLICT (value) DO UPDATE SET last_at = greatest(connection_values.last_at, excluded.last_at);
UPDATE connection_events SET
  step_number =
    CASE step
      WHEN 'mcp_challenge' THEN 1
      WHEN 'resource_metadata' THEN 2
      WHEN 'server_metadata' THEN 3
      WHEN 'registration' THEN 4
      WHEN 'client_document' THEN 5
      WHEN 'authorization' THEN 6
      WHEN 'sign_in' THEN 7
      WHEN 'consent' THEN 8
      WHEN 'redirect' THEN 9
      WHEN 'code_exchange' THEN 10
      WHEN 'mcp_request' THEN 11
      WHEN 'refresh' THEN 12
      WHEN 'step_up' THEN 13
    END,
  grant_ref = (SELECT id FROM connection_values WHERE value = grant_id);
ALTER TABLE connection_events
  DROP COLUMN step,
  DROP COLUMN grant_id;
