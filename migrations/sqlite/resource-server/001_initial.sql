-- Notes kept per user. owner_sub is the access token's `sub`; every query filters on it, so one
-- user never reads, lists or deletes another's notes. Times are epoch milliseconds.
CREATE TABLE notes (
  id         TEXT PRIMARY KEY,
  owner_sub  TEXT NOT NULL,
  title      TEXT NOT NULL,
  body       TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX notes_owner_created ON notes (owner_sub, created_at);

-- Every tool call this server handled (or refused for lack of scope), for `recent_activity`.
-- Rows older than the configured retention are swept.
CREATE TABLE tool_calls (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  at        INTEGER NOT NULL,
  subject   TEXT NOT NULL,
  username  TEXT,
  client_id TEXT NOT NULL,
  tool      TEXT NOT NULL,
  outcome   TEXT NOT NULL CHECK (outcome IN ('ok', 'error', 'denied'))
) STRICT;

CREATE INDEX tool_calls_at ON tool_calls (at);
