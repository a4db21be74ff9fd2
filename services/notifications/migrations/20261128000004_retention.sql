-- Finished deliveries are purged after `service.retention_days`, oldest first.
CREATE INDEX delivery_created_idx ON delivery (created_at);
