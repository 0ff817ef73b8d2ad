-- A tool call refused unsent because its caller already had its most calls in flight at that
-- server (apps/resource-server/src/gateway/call-budget.ts) is recorded as 'limited': it was
-- 'error', as a server that is down or failed. SQLite cannot change a CHECK constraint, so the
-- table is built again with it (https://sqlite.org/lang_altertable.html#otheralter); nothing
-- refers to tool_calls. Rows keep their ids, and new ones continue after the largest id ever
-- given (AUTOINCREMENT's sqlite_sequence, which follows the rename), as before.
CREATE TABLE tool_calls_new (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  at          INTEGER NOT NULL,
  subject     TEXT NOT NULL,
  username    TEXT,
  client_id   TEXT NOT NULL,
  tool        TEXT NOT NULL,
  outcome     TEXT NOT NULL CHECK (outcome IN ('ok', 'error', 'denied', 'limited')),
  server      TEXT,
  duration_ms INTEGER,
  service     TEXT
) STRICT;
INSERT INTO tool_calls_new (id, at, subject, username, client_id, tool, outcome, server, duration_ms, service)
  SELECT id, at, subject, username, client_id, tool, outcome, server, duration_ms, service FROM tool_calls;
DELETE FROM sqlite_sequence WHERE name = 'tool_calls_new';
INSERT INTO sqlite_sequence (name, seq) SELECT 'tool_calls_new', seq FROM sqlite_sequence WHERE name = 'tool_calls';
DROP TABLE tool_calls;
ALTER TABLE tool_calls_new RENAME TO tool_calls;
CREATE INDEX tool_calls_at ON tool_calls (at);
