-- Which limit refused a tool call recorded as 'limited' (010): 'max_calls_per_caller' (the caller's
-- calls in flight at that server), 'max_processes' or 'max_processes_per_user'. NULL for any other
-- outcome and for older rows. No CHECK on its values: a limit added later would need the table
-- built again (SQLite cannot change a CHECK), as 010 did for the outcome.
ALTER TABLE tool_calls ADD COLUMN limited_by TEXT;
