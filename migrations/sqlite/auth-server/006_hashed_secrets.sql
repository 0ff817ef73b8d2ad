-- One-time conversions of stored data that SQL alone cannot do (hashing needs the application):
-- a row here means the conversion called `name` ran to completion, in the same transaction as
-- its changes. First use: bearer ids and client secrets stored in plain by earlier versions are
-- replaced by their hashes (apps/auth-server/src/provider/hash-stored-secrets.ts).
CREATE TABLE data_conversions (
  name         TEXT PRIMARY KEY,
  completed_at INTEGER NOT NULL
) STRICT;
