-- Administration (issue 6). Lists an administrator extends at runtime; the effective lists are
-- the config file's entries plus these rows, read per use, so changes apply without a restart.

-- Exact https redirect URIs Dynamic Client Registration accepts, beyond the config file's.
CREATE TABLE allowed_redirect_uris (
  uri      TEXT PRIMARY KEY,
  added_by TEXT NOT NULL,
  added_at INTEGER NOT NULL
) STRICT;

-- Hosts whose Client ID Metadata Documents are trusted, beyond the config file's.
CREATE TABLE trusted_document_hosts (
  host     TEXT PRIMARY KEY,
  added_by TEXT NOT NULL,
  added_at INTEGER NOT NULL
) STRICT;

-- When each client last obtained tokens. Client ID Metadata Document clients are not stored by
-- the provider, so their name and redirect URIs are kept here to list them. Times: epoch ms.
CREATE TABLE client_usage (
  client_id     TEXT PRIMARY KEY,
  kind          TEXT NOT NULL,
  client_name   TEXT,
  redirect_uris TEXT,
  first_used_at INTEGER NOT NULL,
  last_used_at  INTEGER NOT NULL
) STRICT;

-- What happened: sign-ins, tokens, revocations, registrations and every administrative change.
-- `details` is JSON and never holds passwords, tokens, codes or secrets. `at` is epoch ms.
CREATE TABLE audit_events (
  id        INTEGER PRIMARY KEY,
  at        INTEGER NOT NULL,
  event     TEXT NOT NULL,
  actor     TEXT NOT NULL,
  actor_id  TEXT,
  ip        TEXT,
  client_id TEXT,
  details   TEXT NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_event ON audit_events (event, at);
CREATE INDEX audit_events_actor ON audit_events (actor COLLATE NOCASE, at);
CREATE INDEX audit_events_client ON audit_events (client_id, at) WHERE client_id IS NOT NULL;
