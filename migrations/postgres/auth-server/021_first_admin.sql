-- As on SQLite (migrations/sqlite/auth-server/027_first_admin.sql): the admin the first start
-- created, 'not_signed_in' until it first signs in, then 'signed_in'; NULL for every other user.
ALTER TABLE users ADD COLUMN first_admin TEXT CHECK (first_admin IN ('not_signed_in', 'signed_in'));

-- And only a database that already had users may hold an unmarked first admin an earlier version created.
INSERT INTO data_conversions (name, completed_at)
  SELECT 'first-admin-mark-added-to-existing-users', (extract(epoch FROM now()) * 1000)::bigint
  WHERE EXISTS (SELECT 1 FROM users);
