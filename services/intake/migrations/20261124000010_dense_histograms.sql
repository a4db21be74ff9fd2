-- Rollup histograms became dense arrays: rebuild every rollup (the next start backfills them;
-- until then reports compute from the tickets).
DELETE FROM report_rollup;
DELETE FROM report_rollup_state;
