-- The connection flight recorder (issue 18): each step this app saw of a client connecting to the
-- MCP server, one row per event (apps/shared/connection-events.ts lists the fields and why each
-- is kept). Written in batches off the request path; pruned by age and count (connections.*).
-- seq orders the events of one millisecond as they were recorded; id is the event's public id
-- (128 random bits: unique without an index, which no read needs and every insert would pay).
-- Never a token, code, password, secret, assertion or query string: URLs are origin + path.
CREATE TABLE connection_events (
  seq          INTEGER PRIMARY KEY,
  id           TEXT NOT NULL,
  at           INTEGER NOT NULL,
  step         TEXT NOT NULL,
  outcome      TEXT NOT NULL CHECK (outcome IN ('ok', 'refused')),
  error        TEXT,
  reason_code  TEXT,
  reason       TEXT,
  client_id    TEXT,
  account_id   TEXT,
  flow_id      TEXT,
  grant_id     TEXT,
  ip           TEXT,
  user_agent   TEXT,
  redirect_uri TEXT,
  resource     TEXT,
  scope        TEXT
) STRICT;
-- Reads: a time window (newest first), or one client's or one user's events in it; the prune by
-- age and by count reads the first.
CREATE INDEX connection_events_at ON connection_events (at);
CREATE INDEX connection_events_client ON connection_events (client_id, at) WHERE client_id IS NOT NULL;
CREATE INDEX connection_events_account ON connection_events (account_id, at) WHERE account_id IS NOT NULL;
