-- One message to one recipient on one channel, caused by one event.
CREATE TABLE delivery (
    id           UUID        PRIMARY KEY,
    event_id     UUID        NOT NULL,
    event_type   TEXT        NOT NULL,
    recipient_id UUID        NOT NULL,
    channel      TEXT        NOT NULL,
    kind         TEXT        NOT NULL,
    locale       TEXT        NOT NULL,
    title        TEXT        NOT NULL,
    body         TEXT        NOT NULL,
    status       TEXT        NOT NULL,
    trace_id     TEXT,
    read_at      TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- A redelivered event never produces a second message.
    CONSTRAINT delivery_event_recipient_channel_key UNIQUE (event_id, recipient_id, channel),
    CONSTRAINT delivery_channel_check CHECK (channel IN ('in_app', 'email', 'sms', 'webhook')),
    CONSTRAINT delivery_status_check CHECK (status IN ('pending', 'delivered', 'failed'))
);
CREATE INDEX delivery_inbox_idx ON delivery (recipient_id, created_at DESC, id DESC) WHERE channel = 'in_app';
CREATE INDEX delivery_event_idx ON delivery (event_id);
