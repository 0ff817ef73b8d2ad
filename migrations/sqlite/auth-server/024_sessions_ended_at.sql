-- When a user's browser sessions were last ended (a password change, a disable or enable, an
-- unlinked upstream account), in epoch seconds rounded up: a sign-in made before it (its
-- `loginTs` is earlier) makes no session from then on, even one finished only afterwards (a held
-- resume link, a sign-in in flight). NULL: never ended.
ALTER TABLE users ADD COLUMN sessions_ended_at INTEGER;
