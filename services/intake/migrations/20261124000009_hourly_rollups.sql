-- Hourly rollups beside the daily ones, so the partial days at a report period's edges are read
-- from rollups too (only the partial hours are computed from tickets). `hour` is the UTC hour,
-- -1 for the whole day. Existing rollups are rebuilt (with their hours) at the next start.
DELETE FROM report_rollup;
ALTER TABLE report_rollup DROP CONSTRAINT report_rollup_pkey;
ALTER TABLE report_rollup ADD COLUMN hour SMALLINT NOT NULL DEFAULT -1;
ALTER TABLE report_rollup ADD CONSTRAINT report_rollup_pkey PRIMARY KEY (dim, day, hour, key);

-- Rollups include every ticket committed before `fresh_until` (a little before the last
-- pass began); reports compute what came after from the tickets.
CREATE TABLE report_rollup_state (
    id          BOOLEAN     PRIMARY KEY DEFAULT true CHECK (id),
    fresh_until TIMESTAMPTZ NOT NULL
);
