-- Failed sign-ins counted per key ("user:<name>|ip:<ip>" and "ip:<ip>") within a window.
-- Kept in the database so a restart does not reset a lock.
CREATE TABLE sign_in_failures (
  key               TEXT PRIMARY KEY,
  failures          INTEGER NOT NULL,
  window_started_at INTEGER NOT NULL,
  locked_until      INTEGER
) STRICT;
