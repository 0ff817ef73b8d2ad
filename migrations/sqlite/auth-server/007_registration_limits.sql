-- Registration policy and rate limits (issue 11).

-- Private-use redirect URI schemes (RFC 8252 §7.1) an administrator allowed, beyond the config
-- file's, reverse-domain names and known MCP clients. Lowercase, without the colon.
CREATE TABLE allowed_redirect_schemes (
  scheme   TEXT PRIMARY KEY,
  added_by TEXT NOT NULL,
  added_at INTEGER NOT NULL
) STRICT;

-- Token buckets for per-client-IP rate limits, keyed by '<limit>:<ip>'. `tokens` is what is left
-- at `updated_at` (epoch ms); a row whose bucket has refilled is deleted by the sweeper.
CREATE TABLE rate_limit_buckets (
  key        TEXT PRIMARY KEY,
  tokens     REAL NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX rate_limit_buckets_updated_at ON rate_limit_buckets (updated_at);
