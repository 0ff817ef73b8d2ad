-- As on SQLite (migrations/sqlite/auth-server/026_connection_client_unknown.sql): an event whose
-- client_id no client had is marked, and read apart along its own partial index.
ALTER TABLE connection_events ADD COLUMN client_unknown SMALLINT;
CREATE INDEX connection_events_client_unknown ON connection_events (at) WHERE client_unknown = 1;
