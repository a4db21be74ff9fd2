-- The quality report reads tickets by creation time; every column it needs rides in the index
-- so a period is an index-only scan.
CREATE INDEX ticket_report_idx ON ticket (created_at)
    INCLUDE (id, channel, category, customer_role, assignee_id, resolved_by, status, first_response_at, resolved_at,
             reopen_count, deflected, resolve_by);
-- Tickets answered by an article, for the most frequent questions.
CREATE INDEX ticket_answer_article_idx ON ticket (answer_article_id, created_at) WHERE answer_article_id IS NOT NULL;
