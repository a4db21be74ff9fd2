-- Refund part 1: enrolments and payments as the company's systems report them, refund
-- policies as immutable versions, refund requests with their workflow, and the audit trail.

-- The stub of the skeleton: requests without an enrolment record behind them.
DROP TABLE refund_request;

CREATE TABLE enrolment (
    id                UUID        PRIMARY KEY,
    customer_id       UUID        NOT NULL,
    course_id         TEXT        NOT NULL,
    class_id          TEXT,
    -- What the customer paid after discounts, in integer minor units of `currency`.
    paid_minor        BIGINT      NOT NULL,
    currency          TEXT        NOT NULL,
    channel           TEXT        NOT NULL,
    payment_reference TEXT        NOT NULL,
    enrolled_at       TIMESTAMPTZ NOT NULL,
    total_sessions    INTEGER     NOT NULL,
    attended_sessions INTEGER     NOT NULL DEFAULT 0,
    service_ends_at   TIMESTAMPTZ,
    -- [{"kind": "materials" | "platform_fee" | "other", "amount_minor": n}]
    non_refundable    JSONB       NOT NULL DEFAULT '[]',
    discount_minor    BIGINT      NOT NULL DEFAULT 0,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    CONSTRAINT enrolment_paid_check CHECK (paid_minor >= 0 AND discount_minor >= 0),
    CONSTRAINT enrolment_sessions_check CHECK (total_sessions >= 0 AND attended_sessions >= 0),
    CONSTRAINT enrolment_channel_check CHECK (channel IN ('alipay', 'wechat_pay', 'bank_transfer', 'cash', 'card')),
    CONSTRAINT enrolment_period_check CHECK (service_ends_at IS NULL OR service_ends_at > enrolled_at)
);
CREATE INDEX enrolment_customer_idx ON enrolment (customer_id);

-- Policies are data: each version is immutable (the runtime role may not update or delete
-- one). The policy of an enrolment is the one in force when it was enrolled.
CREATE TABLE refund_policy (
    version        INTEGER     PRIMARY KEY,
    name           TEXT        NOT NULL,
    -- The preset the rules were taken from, if any.
    preset         TEXT,
    -- The engine's document: {"rules": [...]}.
    rules          JSONB       NOT NULL,
    effective_from TIMESTAMPTZ NOT NULL,
    created_by     UUID,
    created_at     TIMESTAMPTZ NOT NULL,
    CONSTRAINT refund_policy_version_check CHECK (version >= 0)
);
CREATE INDEX refund_policy_in_force_idx ON refund_policy (effective_from DESC, version DESC);

-- Version 0: the `standard` preset (domain::policy::Policy::presets), in force from the start
-- of time, so every enrolment has a policy before an admin writes one. A test checks that it
-- equals the preset.
INSERT INTO refund_policy (version, name, preset, rules, effective_from, created_by, created_at)
VALUES (0, 'standard', 'standard',
        '{"rules": [{"type": "cooling_off", "days": 7}, {"type": "full_for_reasons", "reasons": ["duplicate_charge"]}, {"type": "deduct_non_refundable", "kinds": ["materials", "platform_fee"]}, {"type": "tiers_by_consumed", "basis": "sessions", "tiers": [{"up_to_percent": 30, "refund_percent": 70}, {"up_to_percent": 60, "refund_percent": 40}]}]}',
        '1970-01-01T00:00:00Z', NULL, '1970-01-01T00:00:00Z');

CREATE TABLE refund_request (
    id             UUID        PRIMARY KEY,
    enrolment_id   UUID        NOT NULL,
    customer_id    UUID        NOT NULL,
    ticket_id      UUID,
    reason         TEXT        NOT NULL,
    comment        TEXT        NOT NULL DEFAULT '',
    status         TEXT        NOT NULL,
    -- What was asked for, in minor units of `currency` (the payment's).
    amount_minor   BIGINT      NOT NULL,
    currency       TEXT        NOT NULL,
    -- The policy's quote at filing: its amount, explanation lines and version.
    quote_minor    BIGINT      NOT NULL,
    quote_lines    JSONB       NOT NULL,
    in_cooling_off BOOLEAN     NOT NULL,
    policy_version INTEGER     NOT NULL,
    -- Who must decide: automatic, agent or supervisor (as decided at filing).
    decider        TEXT        NOT NULL,
    approved_minor BIGINT,
    filed_by       UUID        NOT NULL,
    reviewed_by    UUID,
    reviewed_at    TIMESTAMPTZ,
    -- NULL with a decision: approved automatically.
    decided_by     UUID,
    decided_at     TIMESTAMPTZ,
    decision_note  TEXT,
    -- Set by the payout (part 2).
    paid_at        TIMESTAMPTZ,
    -- The `subjectseq` of the last event published about the request.
    version        BIGINT      NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    CONSTRAINT refund_request_enrolment_fkey FOREIGN KEY (enrolment_id) REFERENCES enrolment (id),
    CONSTRAINT refund_request_policy_fkey FOREIGN KEY (policy_version) REFERENCES refund_policy (version),
    CONSTRAINT refund_request_amount_check CHECK (amount_minor > 0 AND quote_minor >= 0),
    CONSTRAINT refund_request_approved_check CHECK (approved_minor IS NULL OR approved_minor > 0),
    CONSTRAINT refund_request_reason_check
        CHECK (reason IN ('course_quality', 'teacher', 'schedule', 'relocation', 'duplicate_charge', 'other')),
    CONSTRAINT refund_request_status_check
        CHECK (status IN ('requested', 'under_review', 'approved', 'rejected', 'payout_pending', 'paid',
                          'payout_failed', 'closed', 'cancelled')),
    CONSTRAINT refund_request_decider_check CHECK (decider IN ('automatic', 'agent', 'supervisor'))
);
-- One open request per enrolment, whatever the code path.
CREATE UNIQUE INDEX refund_request_open_idx ON refund_request (enrolment_id)
    WHERE status IN ('requested', 'under_review');
CREATE INDEX refund_request_enrolment_idx ON refund_request (enrolment_id, created_at);
CREATE INDEX refund_request_customer_idx ON refund_request (customer_id, created_at DESC, id DESC);
CREATE INDEX refund_request_created_idx ON refund_request (created_at DESC, id DESC);

-- Append-only: the runtime role may insert and read, never update, delete or truncate
-- (see the next migration).
CREATE TABLE refund_audit (
    id             BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id     UUID        NOT NULL,
    at             TIMESTAMPTZ NOT NULL,
    -- submit, quote, review, approve, reject, cancel
    action         TEXT        NOT NULL,
    from_status    TEXT,
    to_status      TEXT        NOT NULL,
    amount_minor   BIGINT,
    currency       TEXT        NOT NULL,
    policy_version INTEGER     NOT NULL,
    -- NULL: the service itself (an automatic approval).
    actor_id       UUID,
    actor_roles    TEXT[]      NOT NULL,
    note           TEXT,
    CONSTRAINT refund_audit_request_fkey FOREIGN KEY (request_id) REFERENCES refund_request (id)
);
CREATE INDEX refund_audit_request_idx ON refund_audit (request_id, id);
