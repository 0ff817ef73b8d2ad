-- As on SQLite (migrations/sqlite/resource-server/007_connection_event_ids.sql): a connection event's
-- id is given by the store from the app, its time and its sequence number, no longer stored.
ALTER TABLE mcp_connection_events DROP COLUMN id;
