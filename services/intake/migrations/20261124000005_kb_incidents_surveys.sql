-- Knowledge base, incidents, satisfaction surveys and follow-up visits.
CREATE TABLE kb_article (
    id               UUID        PRIMARY KEY,
    language         TEXT        NOT NULL,
    category         TEXT        NOT NULL,
    tags             TEXT[]      NOT NULL DEFAULT '{}',
    title            TEXT        NOT NULL,
    body             TEXT        NOT NULL,
    version          INTEGER     NOT NULL DEFAULT 1,
    status           TEXT        NOT NULL DEFAULT 'published',
    -- Segmented words of title and body (jieba for Chinese), for ranking and confidence.
    terms            TEXT[]      NOT NULL,
    search           TSVECTOR    NOT NULL,
    source_ticket_id UUID,
    created_by       UUID        NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT kb_article_language_check CHECK (language IN ('zh-CN', 'en')),
    CONSTRAINT kb_article_category_check CHECK (category IN ('course_consultation', 'technical', 'learning_progress', 'refund', 'complaint', 'course_suggestion', 'resource_request', 'other')),
    CONSTRAINT kb_article_status_check CHECK (status IN ('published', 'archived'))
);
CREATE INDEX kb_article_search_idx ON kb_article USING GIN (search);

-- Every earlier version of an article, as it was.
CREATE TABLE kb_article_version (
    article_id UUID        NOT NULL REFERENCES kb_article (id),
    version    INTEGER     NOT NULL,
    title      TEXT        NOT NULL,
    body       TEXT        NOT NULL,
    category   TEXT        NOT NULL,
    tags       TEXT[]      NOT NULL,
    edited_by  UUID        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (article_id, version)
);

CREATE TABLE incident (
    id             UUID        PRIMARY KEY,
    number         BIGINT      GENERATED ALWAYS AS IDENTITY UNIQUE,
    fault_type     TEXT        NOT NULL,
    title          TEXT        NOT NULL,
    terms          TEXT[]      NOT NULL,
    status         TEXT        NOT NULL DEFAULT 'open',
    resolution     TEXT,
    opened_by      UUID        NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_linked_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    resolved_at    TIMESTAMPTZ,
    resolved_by    UUID,
    CONSTRAINT incident_status_check CHECK (status IN ('open', 'resolved')),
    CONSTRAINT incident_fault_type_check CHECK (fault_type IN ('hardware', 'software', 'network'))
);
CREATE INDEX incident_open_idx ON incident (fault_type, last_linked_at) WHERE status = 'open';

ALTER TABLE ticket
    ADD COLUMN incident_id       UUID REFERENCES incident (id),
    ADD COLUMN answer_article_id UUID REFERENCES kb_article (id),
    ADD COLUMN answer_score      REAL,
    ADD COLUMN deflected         BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN resolve_by        TIMESTAMPTZ;
CREATE INDEX ticket_incident_idx ON ticket (incident_id) WHERE incident_id IS NOT NULL;
-- Recent technical tickets by fault type, for grouping outages into incidents.
CREATE INDEX ticket_fault_recent_idx ON ticket (fault_type, created_at) WHERE fault_type IS NOT NULL;

CREATE TABLE survey (
    ticket_id    UUID        PRIMARY KEY REFERENCES ticket (id),
    customer_id  UUID        NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ NOT NULL,
    score        SMALLINT,
    comment      TEXT,
    answered_at  TIMESTAMPTZ,
    CONSTRAINT survey_score_check CHECK (score BETWEEN 1 AND 5)
);

CREATE TABLE follow_up (
    id         UUID        PRIMARY KEY,
    ticket_id  UUID        NOT NULL REFERENCES ticket (id),
    due_at     TIMESTAMPTZ NOT NULL,
    status     TEXT        NOT NULL DEFAULT 'pending',
    outcome    TEXT,
    note       TEXT,
    done_by    UUID,
    done_at    TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT follow_up_status_check CHECK (status IN ('pending', 'done', 'cancelled')),
    CONSTRAINT follow_up_outcome_check CHECK (outcome IN ('satisfied', 'still_has_issue', 'unreachable'))
);
CREATE UNIQUE INDEX follow_up_pending_idx ON follow_up (ticket_id) WHERE status = 'pending';
CREATE INDEX follow_up_due_idx ON follow_up (due_at) WHERE status = 'pending';
