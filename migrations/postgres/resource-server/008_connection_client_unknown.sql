-- As on SQLite (migrations/sqlite/resource-server/009_connection_client_unknown.sql).
ALTER TABLE mcp_connection_events ADD COLUMN client_unknown SMALLINT;
