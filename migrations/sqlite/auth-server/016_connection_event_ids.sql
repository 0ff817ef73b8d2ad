-- A connection event's id is no longer stored: the store gives it from the app, the event's time
-- and its sequence number (apps/shared/connections/connection-event-store.ts). 22 random
-- characters less in each row, about 110 bytes per issued-and-refreshed grant. Ids shown before
-- this migration (an attempt's address on the admin pages) change with it.
ALTER TABLE connection_events DROP COLUMN id;
