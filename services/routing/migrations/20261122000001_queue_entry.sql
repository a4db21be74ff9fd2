-- Every ticket that entered a live queue; the truth the Redis queues are rebuilt from.
CREATE TABLE queue_entry (
    ticket_id   UUID        PRIMARY KEY,
    customer_id UUID        NOT NULL,
    queue       TEXT        NOT NULL,
    channel     TEXT        NOT NULL,
    priority    TEXT        NOT NULL,
    category    TEXT,
    status      TEXT        NOT NULL DEFAULT 'waiting',
    score       DOUBLE PRECISION NOT NULL,
    enqueued_at TIMESTAMPTZ NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT queue_entry_status_check CHECK (status IN ('waiting', 'offered', 'assigned', 'closed'))
);
CREATE INDEX queue_entry_waiting_idx ON queue_entry (queue, score) WHERE status = 'waiting';
