-- Quality-report rollups: one row of figures per UTC day, dimension and key (`all`, or a
-- channel, category, agent or customer role), recomputed by the rollup task. Today and
-- yesterday are recomputed on every pass; a change to an older ticket (a late resolution, a
-- survey answered) logs its day in report_stale_day, an append-only log (no lock contention
-- with ticket writes), which the next pass consumes.
CREATE TABLE report_rollup (
    day          DATE        NOT NULL,
    dim          TEXT        NOT NULL,
    key          TEXT        NOT NULL,
    figures      JSONB       NOT NULL,
    refreshed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (dim, day, key)
);

CREATE TABLE report_stale_day (
    seq BIGSERIAL PRIMARY KEY,
    day DATE      NOT NULL
);

CREATE FUNCTION report_mark_ticket_day() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.created_at < date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '1 day' THEN
        INSERT INTO report_stale_day (day) VALUES ((NEW.created_at AT TIME ZONE 'UTC')::date);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER ticket_report_stale AFTER UPDATE ON ticket
    FOR EACH ROW EXECUTE FUNCTION report_mark_ticket_day();

CREATE FUNCTION report_mark_survey_day() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_stale_day (day)
    SELECT (t.created_at AT TIME ZONE 'UTC')::date FROM ticket t
    WHERE t.id = NEW.ticket_id
      AND t.created_at < date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '1 day';
    RETURN NULL;
END $$;

CREATE TRIGGER survey_report_stale AFTER INSERT OR UPDATE ON survey
    FOR EACH ROW EXECUTE FUNCTION report_mark_survey_day();

-- The covering index the rollups and the report's partial days read through.
DROP INDEX ticket_report_idx;
CREATE INDEX ticket_report_idx ON ticket (created_at)
    INCLUDE (id, channel, category, customer_role, assignee_id, resolved_by, status, first_response_at, resolved_at,
             reopen_count, deflected, resolve_by, keywords, answer_article_id);
