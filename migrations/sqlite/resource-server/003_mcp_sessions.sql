-- MCP sessions (Streamable HTTP), so a session opened on one replica continues on another and
-- survives a restart. `subject` is the token subject the session is bound to; `initialize_params`
-- is the client's initialize request params (JSON: protocol version, capabilities, clientInfo),
-- replayed to rebuild the session's MCP server where it is not in memory. `seq` breaks ties in
-- recency (last_used_at is in epoch milliseconds) so the oldest session is evicted first.
CREATE TABLE mcp_sessions (
  seq               INTEGER PRIMARY KEY AUTOINCREMENT,
  id                TEXT NOT NULL UNIQUE,
  subject           TEXT NOT NULL,
  protocol_version  TEXT NOT NULL,
  initialize_params TEXT NOT NULL,
  created_at        INTEGER NOT NULL,
  last_used_at      INTEGER NOT NULL
) STRICT;

CREATE INDEX mcp_sessions_subject_used ON mcp_sessions (subject, last_used_at);
CREATE INDEX mcp_sessions_used ON mcp_sessions (last_used_at);
