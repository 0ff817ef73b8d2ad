-- As on SQLite (migrations/sqlite/auth-server/010_audit_indexes.sql): the audit log's filters
-- list newest first by id, so their indexes are ordered by id after the filtered column, and
-- "event = $1 ORDER BY id DESC LIMIT n" reads n entries instead of sorting every match.
DROP INDEX audit_events_event;
DROP INDEX audit_events_actor;
DROP INDEX audit_events_client;
CREATE INDEX audit_events_event ON audit_events (event, id);
CREATE INDEX audit_events_actor ON audit_events (lower(actor), id);
CREATE INDEX audit_events_client ON audit_events (client_id, id) WHERE client_id IS NOT NULL;
