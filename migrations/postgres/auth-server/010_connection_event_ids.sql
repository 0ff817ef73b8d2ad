-- As on SQLite (migrations/sqlite/auth-server/016_connection_event_ids.sql): a connection event's
-- id is given by the store from the app, its time and its sequence number, no longer stored.
ALTER TABLE connection_events DROP COLUMN id;
