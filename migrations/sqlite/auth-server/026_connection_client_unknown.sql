-- An event whose client_id no client had when the auth-server looked it up (a made-up one, or a
-- registration lost in a reset) is marked, so the connection log reads it apart from registered
-- clients' and users' events: anyone can send token requests naming made-up client_ids, and a
-- few thousand pushed every real attempt out of the log's read. The partial index serves that
-- read; events of registered clients (all of them until now) leave it NULL and are not in it.
ALTER TABLE connection_events ADD COLUMN client_unknown INTEGER;
CREATE INDEX connection_events_client_unknown ON connection_events (at) WHERE client_unknown = 1;
