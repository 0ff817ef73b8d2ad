-- Connection events keep the values that repeat from event to event (client, user, address,
-- user agent, redirect URI, resource, scope) once, in connection_values, and refer to them by
-- number (apps/shared/connections/connection-event-store.ts): the five events of one
-- authorization repeat most of them. A value's last_at is the latest `at` of the events that use
-- it: the prune deletes values last used before the oldest event left. Existing events are
-- converted in place; grant and flow ids, new with each attempt, stay in the row.
CREATE TABLE connection_values (
  id      INTEGER PRIMARY KEY,
  value   TEXT NOT NULL UNIQUE,
  last_at INTEGER NOT NULL
) STRICT;
INSERT INTO connection_values (value, last_at)
  SELECT value, max(at) FROM (
    SELECT client_id AS value, at FROM connection_events
    UNION ALL SELECT account_id, at FROM connection_events
    UNION ALL SELECT ip, at FROM connection_events
    UNION ALL SELECT user_agent, at FROM connection_events
    UNION ALL SELECT redirect_uri, at FROM connection_events
    UNION ALL SELECT resource, at FROM connection_events
    UNION ALL SELECT scope, at FROM connection_events) AS used
  WHERE value IS NOT NULL GROUP BY value;
ALTER TABLE connection_events ADD COLUMN client_ref INTEGER;
ALTER TABLE connection_events ADD COLUMN account_ref INTEGER;
ALTER TABLE connection_events ADD COLUMN ip_ref INTEGER;
ALTER TABLE connection_events ADD COLUMN user_agent_ref INTEGER;
ALTER TABLE connection_events ADD COLUMN redirect_uri_ref INTEGER;
ALTER TABLE connection_events ADD COLUMN resource_ref INTEGER;
ALTER TABLE connection_events ADD COLUMN scope_ref INTEGER;
UPDATE connection_events SET
  client_ref = (SELECT id FROM connection_values WHERE value = client_id),
  account_ref = (SELECT id FROM connection_values WHERE value = account_id),
  ip_ref = (SELECT id FROM connection_values WHERE value = ip),
  user_agent_ref = (SELECT id FROM connection_values WHERE value = user_agent),
  redirect_uri_ref = (SELECT id FROM connection_values WHERE value = redirect_uri),
  resource_ref = (SELECT id FROM connection_values WHERE value = resource),
  scope_ref = (SELECT id FROM connection_values WHERE value = scope);
ALTER TABLE connection_events DROP COLUMN client_id;
ALTER TABLE connection_events DROP COLUMN account_id;
ALTER TABLE connection_events DROP COLUMN ip;
ALTER TABLE connection_events DROP COLUMN user_agent;
ALTER TABLE connection_events DROP COLUMN redirect_uri;
ALTER TABLE connection_events DROP COLUMN resource;
ALTER TABLE connection_events DROP COLUMN scope;
