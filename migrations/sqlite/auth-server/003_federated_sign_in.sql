-- Federated sign-in: a local user linked to (upstream issuer, upstream subject), never by email.
ALTER TABLE users ADD COLUMN email TEXT;
-- A first-time federated user waiting for an administrator's approval (new_users: pending).
ALTER TABLE users ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;

CREATE TABLE federated_identities (
  issuer        TEXT NOT NULL,
  subject       TEXT NOT NULL,
  user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  upstream_id   TEXT NOT NULL,
  email         TEXT,
  created_at    INTEGER NOT NULL,
  last_login_at INTEGER NOT NULL,
  PRIMARY KEY (issuer, subject)
) STRICT;
CREATE INDEX federated_identities_user_id ON federated_identities (user_id);

-- One row per sign-in sent to an upstream, consumed by the callback (state is single-use).
-- browser_binding is the value of a cookie set in the browser that started the sign-in.
CREATE TABLE federated_logins (
  state           TEXT PRIMARY KEY,
  interaction_uid TEXT NOT NULL,
  browser_binding TEXT NOT NULL,
  upstream_id     TEXT NOT NULL,
  code_verifier   TEXT NOT NULL,
  nonce           TEXT NOT NULL,
  expires_at      INTEGER NOT NULL
) STRICT;
