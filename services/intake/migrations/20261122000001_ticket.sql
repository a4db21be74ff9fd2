CREATE TABLE ticket (
    id          UUID        PRIMARY KEY,
    customer_id UUID        NOT NULL,
    channel     TEXT        NOT NULL,
    subject     TEXT        NOT NULL,
    body        TEXT        NOT NULL,
    status      TEXT        NOT NULL DEFAULT 'new',
    priority    TEXT        NOT NULL DEFAULT 'normal',
    created_by  UUID        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT ticket_channel_check CHECK (channel IN ('web', 'chat', 'email', 'phone', 'walk_in', 'api')),
    CONSTRAINT ticket_priority_check CHECK (priority IN ('low', 'normal', 'high', 'urgent'))
);
CREATE INDEX ticket_customer_created_idx ON ticket (customer_id, created_at DESC);
