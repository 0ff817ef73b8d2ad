-- Audit events keep the values that repeat from event to event (event name, actor, actor id,
-- address, client, scope, resource) once, in audit_values, and refer to them by number
-- (apps/auth-server/src/audit/audit-store.ts). A token's grant id moves out of `details` into its
-- own column, and scope and resource into references, when they lead the details (a code
-- exchange's and a refresh's events): `details` keeps only what no column says. The indexes are
-- on the numbers instead of the text (a client id is 43 characters). A value's last_at is the
-- latest `at` of the events that use it: the prune deletes values last used before the oldest
-- event left. Existing events are converted in place and keep their details as they are (the
-- reader puts extracted fields back first, in the order they were written, and finds none here).
CREATE TABLE audit_values (
  id      INTEGER PRIMARY KEY,
  value   TEXT NOT NULL UNIQUE,
  last_at INTEGER NOT NULL
) STRICT;
-- The actor filter matches any case.
CREATE INDEX audit_values_nocase ON audit_values (value COLLATE NOCASE);
INSERT INTO audit_values (value, last_at)
  SELECT value, max(at) FROM (
    SELECT event AS value, at FROM audit_events
    UNION ALL SELECT actor, at FROM audit_events
    UNION ALL SELECT actor_id, at FROM audit_events
    UNION ALL SELECT ip, at FROM audit_events
    UNION ALL SELECT client_id, at FROM audit_events) AS used
  WHERE value IS NOT NULL GROUP BY value;
DROP INDEX audit_events_event;
DROP INDEX audit_events_actor;
DROP INDEX audit_events_client;
ALTER TABLE audit_events ADD COLUMN event_ref INTEGER;
ALTER TABLE audit_events ADD COLUMN actor_ref INTEGER;
ALTER TABLE audit_events ADD COLUMN actor_id_ref INTEGER;
ALTER TABLE audit_events ADD COLUMN ip_ref INTEGER;
ALTER TABLE audit_events ADD COLUMN client_ref INTEGER;
ALTER TABLE audit_events ADD COLUMN grant_id TEXT;
ALTER TABLE audit_events ADD COLUMN scope_ref INTEGER;
ALTER TABLE audit_events ADD COLUMN resource_ref INTEGER;
UPDATE audit_events SET
  event_ref = (SELECT id FROM audit_values WHERE value = event),
  actor_ref = (SELECT id FROM audit_values WHERE value = actor),
  actor_id_ref = (SELECT id FROM audit_values WHERE value = actor_id),
  ip_ref = (SELECT id FROM audit_values WHERE value = ip),
  client_ref = (SELECT id FROM audit_values WHERE value = client_id);
ALTER TABLE audit_events DROP COLUMN event;
ALTER TABLE audit_events DROP COLUMN actor;
ALTER TABLE audit_events DROP COLUMN actor_id;
ALTER TABLE audit_events DROP COLUMN ip;
ALTER TABLE audit_events DROP COLUMN client_id;
CREATE INDEX audit_events_event ON audit_events (event_ref);
CREATE INDEX audit_events_actor ON audit_events (actor_ref);
CREATE INDEX audit_events_client ON audit_events (client_ref) WHERE client_ref IS NOT NULL;
