-- Events carry an order. `version` is the ticket's place in the sequence of events intake
-- published about it (`subjectseq`): 1 for `intake.ticket.created`, bumped with every change
-- that publishes a ticket event, in the same statement as the change. `routing_seq` is the last
-- `subjectseq` of routing's events about the ticket that intake applied: an older one arriving
-- late is skipped.
ALTER TABLE ticket
    ADD COLUMN version     BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN routing_seq BIGINT;

-- Time from one source: rows are stamped with the service's clock, so "is this ticket's day
-- older than yesterday" is judged by the time the change was stamped with (the clock's), not
-- the database server's now().
CREATE OR REPLACE FUNCTION report_mark_ticket_day() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.created_at < date_trunc('day', NEW.updated_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '1 day' THEN
        INSERT INTO report_stale_day (day) VALUES ((NEW.created_at AT TIME ZONE 'UTC')::date);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION report_mark_survey_day() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_stale_day (day)
    SELECT (t.created_at AT TIME ZONE 'UTC')::date FROM ticket t
    WHERE t.id = NEW.ticket_id
      AND t.created_at < date_trunc('day', coalesce(NEW.answered_at, NEW.requested_at) AT TIME ZONE 'UTC')
                         AT TIME ZONE 'UTC' - interval '1 day';
    RETURN NULL;
END $$;
