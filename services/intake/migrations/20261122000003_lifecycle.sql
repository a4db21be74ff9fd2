-- The lifecycle's timestamps and the conversation thread.
ALTER TABLE ticket
    ADD COLUMN first_response_at TIMESTAMPTZ,
    ADD COLUMN resolved_at       TIMESTAMPTZ,
    ADD COLUMN closed_at         TIMESTAMPTZ,
    ADD COLUMN reopen_count      INTEGER NOT NULL DEFAULT 0,
    ADD CONSTRAINT ticket_status_check CHECK (status IN ('new', 'auto_answered', 'queued', 'assigned', 'in_progress', 'waiting_on_customer', 'resolved', 'closed', 'cancelled'));

CREATE TABLE ticket_message (
    id          UUID        PRIMARY KEY,
    ticket_id   UUID        NOT NULL REFERENCES ticket (id),
    author_id   UUID        NOT NULL,
    author_role TEXT        NOT NULL,
    visibility  TEXT        NOT NULL,
    kind        TEXT        NOT NULL,
    body        TEXT        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT ticket_message_author_role_check CHECK (author_role IN ('customer', 'agent', 'system')),
    CONSTRAINT ticket_message_visibility_check CHECK (visibility IN ('public', 'internal')),
    CONSTRAINT ticket_message_kind_check CHECK (kind IN ('message', 'progress_update', 'note')),
    -- Customers never see internal notes, and notes are never public.
    CONSTRAINT ticket_message_note_internal_check CHECK ((kind = 'note') = (visibility = 'internal'))
);
CREATE INDEX ticket_message_ticket_idx ON ticket_message (ticket_id, created_at, id);
