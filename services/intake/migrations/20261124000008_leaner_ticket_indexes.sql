-- Fewer indexes to maintain on every new ticket: (customer_id, created_at DESC) already serves
-- the repeated-contact count and the open-duplicate lookup (a customer has few tickets), and
-- the report reads days through a plain created_at index now that whole days come from rollups.
DROP INDEX ticket_customer_recent_idx;
DROP INDEX ticket_customer_open_idx;
DROP INDEX ticket_report_idx;
CREATE INDEX ticket_created_idx ON ticket (created_at);
