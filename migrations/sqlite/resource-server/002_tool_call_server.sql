-- The gateway: which MCP server a tool call went to ('gatehouse' for the built-in tools) and how
-- long it took. Rows written before this migration have neither.
ALTER TABLE tool_calls ADD COLUMN server TEXT;
ALTER TABLE tool_calls ADD COLUMN duration_ms INTEGER;
