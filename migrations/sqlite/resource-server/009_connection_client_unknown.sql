-- The column the auth-server's connection_events gained
-- (migrations/sqlite/auth-server/026_connection_client_unknown.sql): both tables keep the same
-- columns, one store reads and writes them (apps/shared/connections/connection-event-store.ts).
-- The resource server names only clients whose tokens it verified, so it never sets it.
ALTER TABLE mcp_connection_events ADD COLUMN client_unknown INTEGER;
