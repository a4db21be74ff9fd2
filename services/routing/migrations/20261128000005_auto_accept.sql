-- Push queues whose tickets are given straight to the chosen agent (assigned, no offer to
-- accept), as for email work that agents do not pick.
ALTER TABLE queue_def ADD COLUMN auto_accept BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE queue_def ADD CONSTRAINT queue_def_auto_accept_needs_push CHECK (push OR NOT auto_accept);
