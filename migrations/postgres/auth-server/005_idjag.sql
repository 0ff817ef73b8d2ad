-- Enterprise-managed authorization (issue 16): ID-JAG, the jwt-bearer grant.

-- Enterprise IdPs an administrator trusts beyond the config file's (admin pages, `gatehouse idps`).
-- jwks is a JSON JWK Set (public keys) when given inline instead of jwks_uri; lists are JSON arrays.
CREATE TABLE trusted_idps (
  issuer             TEXT PRIMARY KEY,
  id                 TEXT NOT NULL UNIQUE,
  jwks_uri           TEXT,
  jwks               TEXT,
  algorithms         TEXT NOT NULL,
  new_users          TEXT NOT NULL,
  default_scopes     TEXT NOT NULL,
  allowed_client_ids TEXT NOT NULL,
  added_by           TEXT NOT NULL,
  added_at           BIGINT NOT NULL
);

-- Each ID-JAG accepted, by (issuer, jti), kept until it expires (epoch seconds): the primary key
-- makes a second use fail, on every replica (MCP enterprise-managed authorization §7.4.2).
CREATE TABLE id_jag_replays (
  issuer     TEXT NOT NULL,
  jti        TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (issuer, jti)
);
CREATE INDEX id_jag_replays_expires_at ON id_jag_replays (expires_at);
