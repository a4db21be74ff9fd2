-- Refund requests filed from a ticket, followed through refund's `refund.request.*` events:
-- the ticket's internal notes say what each step did (ticket_message.external_id
-- `refund:<request id>:<subjectseq>` writes each note once), and this row keeps what the
-- ticket's own state depends on. `seq` is the `subjectseq` of the newest event applied (an
-- older one arriving late changes nothing); `ended_at` is when the request ended (rejected,
-- cancelled, paid, closed), which resolves its ticket once.
CREATE TABLE refund_request (
    id         UUID        PRIMARY KEY,
    ticket_id  UUID        NOT NULL REFERENCES ticket (id),
    status     TEXT        NOT NULL,
    seq        BIGINT,
    ended_at   TIMESTAMPTZ,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX refund_request_ticket_idx ON refund_request (ticket_id);
