-- What classification decided on create, and why.
ALTER TABLE ticket
    ADD COLUMN category        TEXT    NOT NULL DEFAULT 'other',
    ADD COLUMN language        TEXT    NOT NULL DEFAULT 'zh-CN',
    ADD COLUMN education_level TEXT,
    ADD COLUMN keywords        TEXT[]  NOT NULL DEFAULT '{}',
    ADD COLUMN high_emotion    BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN classification  JSONB   NOT NULL DEFAULT '{}',
    ADD CONSTRAINT ticket_category_check CHECK (category IN ('course_consultation', 'technical', 'learning_progress', 'refund', 'complaint', 'course_suggestion', 'resource_request', 'other')),
    ADD CONSTRAINT ticket_education_level_check CHECK (education_level IN ('k12', 'higher', 'vocational'));
CREATE INDEX ticket_customer_recent_idx ON ticket (customer_id, created_at);
