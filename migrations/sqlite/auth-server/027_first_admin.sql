-- The admin the first start created, recognised by its row (so by its id), not by the configured
-- bootstrap username, which `users rename` may have taken from it: 'not_signed_in' until it first
-- signs in, then 'signed_in'; NULL for every other user, and for a first admin an earlier version
-- created (the configured username still names that one).
ALTER TABLE users ADD COLUMN first_admin TEXT CHECK (first_admin IN ('not_signed_in', 'signed_in'));
