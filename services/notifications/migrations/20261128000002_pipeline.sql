-- Rules, templates, recipients, webhook endpoints and the delivery pipeline.

-- Which event produces which notification, to whom, on which channels.
CREATE TABLE rule (
    name          TEXT        PRIMARY KEY,
    event_type    TEXT        NOT NULL,
    -- JSON pointers into the event's data that must equal the given values.
    conditions    JSONB       NOT NULL DEFAULT '{}',
    -- JSON pointer to the recipient's id in the event's data (`/customer_id`).
    recipient     TEXT        NOT NULL,
    notification  TEXT        NOT NULL,
    channels      TEXT[]      NOT NULL,
    category      TEXT        NOT NULL,
    -- `urgent` ignores quiet hours; `transactional` cannot be opted out of; `normal`; `low`.
    urgency       TEXT        NOT NULL,
    -- Batch messages to one recipient within this window into one digest.
    digest_secs   INTEGER,
    enabled       BOOLEAN     NOT NULL DEFAULT true,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT rule_urgency_check CHECK (urgency IN ('urgent', 'transactional', 'normal', 'low')),
    CONSTRAINT rule_digest_check CHECK (digest_secs IS NULL OR digest_secs BETWEEN 1 AND 86400)
);
CREATE INDEX rule_event_idx ON rule (event_type);

-- Versioned message templates per notification, channel and locale.
CREATE TABLE template (
    notification TEXT        NOT NULL,
    channel      TEXT        NOT NULL,
    locale       TEXT        NOT NULL,
    version      INTEGER     NOT NULL,
    subject      TEXT        NOT NULL,
    body         TEXT        NOT NULL,
    html         TEXT,
    created_by   UUID,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (notification, channel, locale, version),
    CONSTRAINT template_channel_check CHECK (channel IN ('in_app', 'email', 'sms'))
);

-- Where and how a person wants to be told.
CREATE TABLE recipient (
    id          UUID        PRIMARY KEY,
    email       TEXT,
    phone       TEXT,
    locale      TEXT,
    time_zone   TEXT        NOT NULL DEFAULT 'Asia/Shanghai',
    quiet_start TIME,
    quiet_end   TIME,
    -- `{category}:{channel}` pairs the person does not want (`progress:email`, `marketing:*`).
    opt_outs    TEXT[]      NOT NULL DEFAULT '{}',
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The company's systems that subscribe to events.
CREATE TABLE webhook_endpoint (
    id             UUID        PRIMARY KEY,
    owner_id       UUID        NOT NULL,
    url            TEXT        NOT NULL,
    description    TEXT        NOT NULL DEFAULT '',
    -- Event types or prefixes ending in `*` (`intake.*`).
    event_types    TEXT[]      NOT NULL,
    -- Current secret first; a rotated-out one keeps signing until `previous_until`.
    secret         TEXT        NOT NULL,
    previous_secret TEXT,
    previous_until TIMESTAMPTZ,
    allow_private  BOOLEAN     NOT NULL DEFAULT false,
    enabled        BOOLEAN     NOT NULL DEFAULT true,
    disabled_reason TEXT,
    failing_since  TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The delivery row is the message, its state in the pipeline and its durable send job.
ALTER TABLE delivery DROP CONSTRAINT delivery_status_check;
ALTER TABLE delivery
    ADD COLUMN category        TEXT        NOT NULL DEFAULT 'ticket',
    ADD COLUMN urgency         TEXT        NOT NULL DEFAULT 'normal',
    ADD COLUMN html            TEXT,
    ADD COLUMN address         TEXT,
    ADD COLUMN endpoint_id     UUID,
    ADD COLUMN payload         JSONB,
    ADD COLUMN source          TEXT        NOT NULL DEFAULT 'event',
    ADD COLUMN attempts        INTEGER     NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_at TIMESTAMPTZ,
    ADD COLUMN lease_until     TIMESTAMPTZ,
    ADD COLUMN provider        TEXT,
    ADD COLUMN last_error      TEXT,
    ADD COLUMN digest_key      TEXT,
    ADD COLUMN digest_id       UUID,
    ADD COLUMN sent_at         TIMESTAMPTZ,
    ADD CONSTRAINT delivery_status_check CHECK (status IN
        ('pending', 'sending', 'delivered', 'failed', 'suppressed', 'digested', 'cancelled'));
-- What the dispatchers claim: due, by time.
CREATE INDEX delivery_due_idx ON delivery (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX delivery_recipient_idx ON delivery (recipient_id, created_at DESC);
CREATE INDEX delivery_digest_items_idx ON delivery (digest_id) WHERE digest_id IS NOT NULL;
-- One open digest per recipient, channel and notification.
CREATE UNIQUE INDEX delivery_open_digest_key ON delivery (recipient_id, channel, digest_key)
    WHERE status = 'pending' AND kind = 'digest';

-- Every attempt to hand a message to a provider, with its answer.
CREATE TABLE delivery_attempt (
    delivery_id UUID        NOT NULL,
    attempt     INTEGER     NOT NULL,
    provider    TEXT        NOT NULL,
    outcome     TEXT        NOT NULL,
    status_code INTEGER,
    response    TEXT,
    duration_ms INTEGER     NOT NULL,
    at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (delivery_id, attempt),
    CONSTRAINT delivery_attempt_outcome_check CHECK (outcome IN ('delivered', 'retry', 'failed', 'gone'))
);
