-- Events carry an order. `version` numbers routing's own events about a ticket (their
-- `subjectseq`): bumped by the statement that makes the change they report. `intake_seq` is
-- the `subjectseq` of the last intake event about the ticket's status applied here, so a late
-- event cannot undo a newer one.
ALTER TABLE queue_entry
    ADD COLUMN version    BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN intake_seq BIGINT;
