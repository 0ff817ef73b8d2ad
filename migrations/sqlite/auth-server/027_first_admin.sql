-- The admin the first start created, recognised by its row (so by its id), not by the configured
-- bootstrap username, which `users rename` may have taken from it: 'not_signed_in' until it first
-- signs in, then 'signed_in'; NULL for every other user, and for a first admin an earlier version
-- created (the configured username still names that one).
ALTER TABLE users ADD COLUMN first_admin TEXT CHECK (first_admin IN ('not_signed_in', 'signed_in'));

-- Only a database that already had users can hold such an unmarked first admin: the row says so
-- (UserStore.mayHaveUnmarkedFirstAdmin). Without it (a fresh database, the CLI's included) an
-- unmarked admin, say one `users add` made before the first start, is never taken for it.
INSERT INTO data_conversions (name, completed_at)
  SELECT 'first-admin-mark-added-to-existing-users', CAST(strftime('%s', 'now') AS INTEGER) * 1000
  WHERE EXISTS (SELECT 1 FROM users);
