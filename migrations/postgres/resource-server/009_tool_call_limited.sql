-- As on SQLite (migrations/sqlite/resource-server/010_tool_call_limited.sql): a tool call refused
-- unsent because its caller already had its most calls in flight at that server is recorded as
-- 'limited'. The CHECK is the one 001_initial.sql declared on the column (PostgreSQL's name for it).
ALTER TABLE tool_calls
  DROP CONSTRAINT tool_calls_outcome_check,
  ADD CONSTRAINT tool_calls_outcome_check CHECK (outcome IN ('ok', 'error', 'denied', 'limited'));
