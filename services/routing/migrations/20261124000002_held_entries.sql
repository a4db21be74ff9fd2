-- Tickets answered from the knowledge base are held (known, not waiting) until the customer
-- says "not solved"; high-emotion tickets are marked for senior agents.
ALTER TABLE queue_entry
    DROP CONSTRAINT queue_entry_status_check,
    ADD CONSTRAINT queue_entry_status_check CHECK (status IN ('held', 'waiting', 'offered', 'assigned', 'closed')),
    ADD COLUMN high_emotion BOOLEAN NOT NULL DEFAULT false;
