-- As the auth-server's (migrations/sqlite/auth-server/018_connection_step_numbers.sql):
-- - A step is stored as its number, not its name (7 to 17 characters in every event). The
--   numbers are STEP_NUMBERS in apps/shared/connections/connection-event-store.ts, never reused.
-- - A grant id is stored once, in mcp_connection_values, and events refer to it by number, as
--   they do to clients and users: a grant's id (43 characters) is in four of the auth-server's five events
--   of one authorization. Flow ids (22 characters, three events) stay in the row: their value
--   row and its index would cost as much as they save.
-- About 100 bytes less per issued-and-refreshed grant (bench/disk-per-grant.ts). Existing events
-- are converted in place; a step name this version does not know becomes NULL (the reader
-- skips such rows, as it skipped unknown names).
ALTER TABLE mcp_connection_events ADD COLUMN step_number INTEGER;
ALTER TABLE mcp_connection_events ADD COLUMN grant_ref INTEGER;
INSERT INTO mcp_connection_values (value, last_at)
  SELECT grant_id, max(at) FROM mcp_connection_events WHERE grant_id IS NOT NULL GROUP BY grant_id
  ON CONFLICT (value) DO UPDATE SET last_at = max(last_at, excluded.last_at);
UPDATE mcp_connection_events SET
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
  grant_ref = (SELECT id FROM mcp_connection_values WHERE value = grant_id);
ALTER TABLE mcp_connection_events DROP COLUMN step;
ALTER TABLE mcp_connection_events DROP COLUMN grant_id;
