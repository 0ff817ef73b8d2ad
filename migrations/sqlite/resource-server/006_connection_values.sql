-- As the auth-server's (migrations/sqlite/auth-server/015_connection_values.sql): values that
-- repeat from event to event are stored once, in mcp_connection_values, and events refer to them
-- by number (apps/shared/connections/connection-event-store.ts). GET /connections/events filters
-- by client and by user: those indexes are now on the reference columns.
CREATE TABLE mcp_connection_values (
  id      INTEGER PRIMARY KEY,
  value   TEXT NOT NULL UNIQUE,
  last_at INTEGER NOT NULL
) STRICT;
INSERT INTO mcp_connection_values (value, last_at)
  SELECT value, max(at) FROM (
    SELECT client_id AS value, at FROM mcp_connection_events
    UNION ALL SELECT account_id, at FROM mcp_connection_events
    UNION ALL SELECT ip, at FROM mcp_connection_events
    UNION ALL SELECT user_agent, at FROM mcp_connection_events
    UNION ALL SELECT redirect_uri, at FROM mcp_connection_events
    UNION ALL SELECT resource, at FROM mcp_connection_events
    UNION ALL SELECT scope, at FROM mcp_connection_events) AS used
  WHERE value IS NOT NULL GROUP BY value;
DROP INDEX mcp_connection_events_client;
DROP INDEX mcp_connection_events_account;
ALTER TABLE mcp_connection_events ADD COLUMN client_ref INTEGER;
ALTER TABLE mcp_connection_events ADD COLUMN account_ref INTEGER;
ALTER TABLE mcp_connection_events ADD COLUMN ip_ref INTEGER;
ALTER TABLE mcp_connection_events ADD COLUMN user_agent_ref INTEGER;
ALTER TABLE mcp_connection_events ADD COLUMN redirect_uri_ref INTEGER;
ALTER TABLE mcp_connection_events ADD COLUMN resource_ref INTEGER;
ALTER TABLE mcp_connection_events ADD COLUMN scope_ref INTEGER;
UPDATE mcp_connection_events SET
  client_ref = (SELECT id FROM mcp_connection_values WHERE value = client_id),
  account_ref = (SELECT id FROM mcp_connection_values WHERE value = account_id),
  ip_ref = (SELECT id FROM mcp_connection_values WHERE value = ip),
  user_agent_ref = (SELECT id FROM mcp_connection_values WHERE value = user_agent),
  redirect_uri_ref = (SELECT id FROM mcp_connection_values WHERE value = redirect_uri),
  resource_ref = (SELECT id FROM mcp_connection_values WHERE value = resource),
  scope_ref = (SELECT id FROM mcp_connection_values WHERE value = scope);
ALTER TABLE mcp_connection_events DROP COLUMN client_id;
ALTER TABLE mcp_connection_events DROP COLUMN account_id;
ALTER TABLE mcp_connection_events DROP COLUMN ip;
ALTER TABLE mcp_connection_events DROP COLUMN user_agent;
ALTER TABLE mcp_connection_events DROP COLUMN redirect_uri;
ALTER TABLE mcp_connection_events DROP COLUMN resource;
ALTER TABLE mcp_connection_events DROP COLUMN scope;
CREATE INDEX mcp_connection_events_client ON mcp_connection_events (client_ref, at) WHERE client_ref IS NOT NULL;
CREATE INDEX mcp_connection_events_account ON mcp_connection_events (account_ref, at) WHERE account_ref IS NOT NULL;
