-- Who created each direct send and each webhook endpoint: a calling service reads and cancels
-- only its own sends and sees only its own endpoints (another's is a 404). Event deliveries
-- have no creator; sends made before this column are visible to admins only.
ALTER TABLE delivery ADD COLUMN created_by UUID;

-- Endpoints made so far were created by (or for) their owner.
ALTER TABLE webhook_endpoint ADD COLUMN created_by UUID;
UPDATE webhook_endpoint SET created_by = owner_id WHERE created_by IS NULL;
ALTER TABLE webhook_endpoint ALTER COLUMN created_by SET NOT NULL;
CREATE INDEX webhook_endpoint_created_by_idx ON webhook_endpoint (created_by);
