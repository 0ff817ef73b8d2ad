-- No query reads this app's connection events by client or by user: the connection log reads
-- the newest events of the retention window (connection_events_at) and groups and filters them
-- in memory (apps/auth-server/src/connections/connection-log.ts). The two indexes cost about
-- 640 bytes per issued-and-refreshed grant (five events each; bench/disk-per-grant.ts) for no
-- reader. The resource server's table keeps its own: its GET /connections/events serves those
-- filters.
DROP INDEX connection_events_client;
DROP INDEX connection_events_account;
