-- Tables every service's database has: the transactional outbox, the record of handled events,
-- durable scheduled jobs and saved idempotent responses.

CREATE TABLE outbox_event (
    id           BIGSERIAL PRIMARY KEY,
    event_id     UUID        NOT NULL,
    event_type   TEXT        NOT NULL,
    envelope     JSONB       NOT NULL,
    traceparent  TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at TIMESTAMPTZ,
    attempts     INTEGER     NOT NULL DEFAULT 0,
    last_error   TEXT,
    CONSTRAINT outbox_event_event_id_key UNIQUE (event_id)
);
-- The relay reads only unpublished rows, oldest first.
CREATE INDEX outbox_event_unpublished_idx ON outbox_event (id) WHERE published_at IS NULL;
CREATE INDEX outbox_event_published_at_idx ON outbox_event (published_at) WHERE published_at IS NOT NULL;

CREATE TABLE processed_event (
    consumer     TEXT        NOT NULL,
    event_id     UUID        NOT NULL,
    event_type   TEXT        NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT processed_event_pkey PRIMARY KEY (consumer, event_id)
);
CREATE INDEX processed_event_processed_at_idx ON processed_event (processed_at);

CREATE TABLE scheduled_job (
    id           UUID        PRIMARY KEY,
    kind         TEXT        NOT NULL,
    dedupe_key   TEXT,
    payload      JSONB       NOT NULL,
    due_at       TIMESTAMPTZ NOT NULL,
    status       TEXT        NOT NULL DEFAULT 'pending',
    attempts     INTEGER     NOT NULL DEFAULT 0,
    max_attempts INTEGER     NOT NULL,
    locked_until TIMESTAMPTZ,
    last_error   TEXT,
    traceparent  TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT scheduled_job_status_check CHECK (status IN ('pending', 'done', 'failed', 'cancelled')),
    CONSTRAINT scheduled_job_kind_dedupe_key_key UNIQUE (kind, dedupe_key)
);
CREATE INDEX scheduled_job_due_idx ON scheduled_job (due_at) WHERE status = 'pending';

CREATE TABLE idempotency_key (
    scope           TEXT        NOT NULL,
    key             TEXT        NOT NULL,
    fingerprint     TEXT        NOT NULL,
    response_status SMALLINT,
    response_body   JSONB,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT idempotency_key_pkey PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_key_created_at_idx ON idempotency_key (created_at);
