-- As on SQLite (migrations/sqlite/resource-server/011_tool_call_limited_by.sql): which limit
-- refused a tool call recorded as 'limited'; NULL for any other outcome and for older rows.
ALTER TABLE tool_calls ADD COLUMN limited_by TEXT;
