-- Machine clients (client credentials): the service account's name when a tool call was made by
-- one instead of a user (its subject is then its client id). NULL for users and for older rows.
ALTER TABLE tool_calls ADD COLUMN service TEXT;
