-- The revocation feed the resource server follows (apps/shared/revocation-entry.ts): each row
-- refuses access tokens that match (kind, value) and were issued at or before issued_before.
-- AUTOINCREMENT: a seq is never reused after rows are pruned, so a follower's cursor stays valid.
CREATE TABLE revocations (
  seq           INTEGER PRIMARY KEY AUTOINCREMENT,
  kind          TEXT NOT NULL,
  value         TEXT NOT NULL,
  issued_before INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX revocations_expires_at ON revocations (expires_at);

-- One row: the feed's identity. A follower that sees another id (a new database) starts over.
CREATE TABLE revocation_feed (
  id   INTEGER PRIMARY KEY CHECK (id = 1),
  feed TEXT NOT NULL
) STRICT;
INSERT INTO revocation_feed (id, feed) VALUES (1, lower(hex(randomblob(16))));
