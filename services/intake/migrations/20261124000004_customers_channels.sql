-- Customers' support profiles (upserted by the company's own systems), and what tickets need
-- from every channel: a human-readable number for email subjects, the email thread, the fault
-- record of technical tickets, who works on and who resolved a ticket.
CREATE TABLE customer (
    id                 UUID        PRIMARY KEY,
    display_name       TEXT,
    role               TEXT        NOT NULL,
    segments           TEXT[]      NOT NULL DEFAULT '{}',
    preferred_language TEXT        NOT NULL DEFAULT 'zh-CN',
    education_level    TEXT,
    time_zone          TEXT        NOT NULL DEFAULT 'Asia/Shanghai',
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT customer_role_check CHECK (role IN ('student', 'parent', 'teacher', 'institution')),
    CONSTRAINT customer_segments_check CHECK (segments <@ ARRAY['new_user', 'vip', 'special_needs']),
    CONSTRAINT customer_language_check CHECK (preferred_language IN ('zh-CN', 'en')),
    CONSTRAINT customer_education_level_check CHECK (education_level IN ('k12', 'higher', 'vocational'))
);

CREATE TABLE customer_contact (
    customer_id UUID NOT NULL REFERENCES customer (id) ON DELETE CASCADE,
    channel     TEXT NOT NULL,
    address     TEXT NOT NULL,
    PRIMARY KEY (customer_id, channel, address),
    CONSTRAINT customer_contact_channel_check CHECK (channel IN ('email', 'phone', 'sms', 'wechat', 'chat'))
);
-- One address belongs to one customer: inbound email finds its customer by it.
CREATE UNIQUE INDEX customer_contact_address_idx ON customer_contact (channel, lower(address));

ALTER TABLE ticket
    ADD COLUMN number            BIGINT GENERATED ALWAYS AS IDENTITY,
    ADD COLUMN customer_role     TEXT,
    ADD COLUMN customer_segments TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN fault             JSONB,
    ADD COLUMN fault_type        TEXT,
    ADD COLUMN assignee_id       UUID,
    ADD COLUMN resolved_by       UUID,
    -- Where the ticket came from outside: the first email's Message-ID.
    ADD COLUMN source_ref        TEXT,
    ADD CONSTRAINT ticket_number_key UNIQUE (number),
    ADD CONSTRAINT ticket_fault_type_check CHECK (fault_type IN ('hardware', 'software', 'network'));
CREATE UNIQUE INDEX ticket_source_ref_idx ON ticket (source_ref) WHERE source_ref IS NOT NULL;
-- Open tickets of a customer, for duplicate detection across channels.
CREATE INDEX ticket_customer_open_idx ON ticket (customer_id, created_at DESC)
    WHERE status NOT IN ('resolved', 'closed', 'cancelled');

ALTER TABLE ticket_message
    ADD COLUMN channel     TEXT,
    ADD COLUMN external_id TEXT;
-- An email's Message-ID: the same mail delivered twice is one message, and replies find their
-- ticket by it.
CREATE UNIQUE INDEX ticket_message_external_idx ON ticket_message (external_id) WHERE external_id IS NOT NULL;
