-- As on SQLite (migrations/sqlite/auth-server/013_connection_events_indexes.sql): no query reads
-- this app's connection events by client or by user; the connection log reads the newest events
-- of the retention window and filters them in memory.
DROP INDEX connection_events_client;
DROP INDEX connection_events_account;
