CREATE TABLE refund_request (
    id            UUID        PRIMARY KEY,
    customer_id   UUID        NOT NULL,
    enrolment_id  UUID        NOT NULL,
    amount_minor  BIGINT      NOT NULL,
    currency      TEXT        NOT NULL,
    reason        TEXT        NOT NULL,
    detail        TEXT        NOT NULL DEFAULT '',
    status        TEXT        NOT NULL DEFAULT 'requested',
    created_by    UUID        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT refund_request_amount_check CHECK (amount_minor > 0),
    CONSTRAINT refund_request_reason_check CHECK (reason IN ('course_quality', 'teacher', 'schedule', 'other')),
    CONSTRAINT refund_request_status_check CHECK (status IN ('requested'))
);
CREATE INDEX refund_request_customer_idx ON refund_request (customer_id, created_at DESC);
