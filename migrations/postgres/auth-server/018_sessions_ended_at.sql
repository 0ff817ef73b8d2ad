-- As on SQLite (migrations/sqlite/auth-server/024_sessions_ended_at.sql): when a user's browser
-- sessions were last ended, in epoch seconds rounded up; a sign-in made before it makes no session.
ALTER TABLE users ADD COLUMN sessions_ended_at BIGINT;
