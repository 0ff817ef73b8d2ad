-- The audit log's filters (event, actor, client) list newest first by id. An index on the column
-- alone holds (column, rowid), so "event = ? ORDER BY id DESC LIMIT n" reads its entries in order
-- and stops after n, where (column, at) needed every matching entry sorted in a temporary b-tree;
-- and each entry is 6 bytes shorter. audit_events_at stays: time-range filters and the
-- retention prune read it.
DROP INDEX audit_events_event;
DROP INDEX audit_events_actor;
DROP INDEX audit_events_client;
CREATE INDEX audit_events_event ON audit_events (event);
CREATE INDEX audit_events_actor ON audit_events (actor COLLATE NOCASE);
CREATE INDEX audit_events_client ON audit_events (client_id) WHERE client_id IS NOT NULL;
