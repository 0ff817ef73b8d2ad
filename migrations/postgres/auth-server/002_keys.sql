-- Signing and cookie keys on PostgreSQL, shared by every replica (on SQLite they stay files in
-- KEYS_DIR). Private parts are encrypted with AES-256-GCM under GATEHOUSE_KEY_ENCRYPTION_KEY
-- (apps/auth-server/src/keys/key-encryption.ts); nothing here is usable without that key.

-- Stages as in keys/signing-keys.ts: at most one active and one next key, enforced here so two
-- replicas can never both insert a first key set or promote two keys.
CREATE TABLE signing_keys (
  kid                TEXT PRIMARY KEY,
  status             TEXT NOT NULL CHECK (status IN ('active', 'next', 'retiring')),
  -- The whole private JWK, encrypted, bound to its kid.
  private_jwk        TEXT NOT NULL,
  -- Epoch seconds, as in the key file.
  created_at         BIGINT NOT NULL,
  stopped_signing_at BIGINT
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (status) WHERE status = 'active';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (status) WHERE status = 'next';

-- Secrets that sign cookies, in the order Koa uses them (the first signs).
CREATE TABLE cookie_keys (
  position   INTEGER PRIMARY KEY,
  -- Encrypted, bound to its position.
  secret     TEXT NOT NULL,
  -- Epoch seconds.
  created_at BIGINT NOT NULL
);
