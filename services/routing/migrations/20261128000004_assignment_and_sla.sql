-- Queues as data: which tickets wait where, and the tier and skill they need by default.
CREATE TABLE queue_def (
    name        TEXT        PRIMARY KEY,
    description TEXT        NOT NULL DEFAULT '',
    -- Ticket categories this queue takes (empty: none by category; the default queue takes the rest).
    categories  TEXT[]      NOT NULL DEFAULT '{}',
    -- Channels it takes (empty: every channel).
    channels    TEXT[]      NOT NULL DEFAULT '{}',
    tier        TEXT        NOT NULL DEFAULT 'junior',
    -- The skill an agent needs (NULL: none).
    skill       TEXT,
    -- Higher wins when several queues take the same ticket.
    precedence  INT         NOT NULL DEFAULT 0,
    -- Offer its tickets to agents (push); false: agents take them when ready (pull).
    push        BOOLEAN     NOT NULL DEFAULT true,
    active      BOOLEAN     NOT NULL DEFAULT true,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT queue_def_tier_check CHECK (tier IN ('junior', 'mid', 'senior'))
);
INSERT INTO queue_def (name, description, categories, tier, skill, precedence) VALUES
    ('general', 'Everything no other queue takes', '{}', 'junior', NULL, 0),
    ('course_consultation', 'Prices, enrolment, timetables', '{course_consultation}', 'junior', 'course_consultation', 10),
    ('technical', 'Devices, apps, connections', '{technical}', 'junior', 'technical', 10),
    ('learning_progress', 'Progress, make-up classes, teacher changes', '{learning_progress}', 'mid', 'learning_progress', 10),
    ('refund', 'Refund requests and their progress', '{refund}', 'mid', 'refund', 10),
    ('complaint', 'Complaints', '{complaint}', 'senior', 'complaint', 10),
    ('feedback', 'Course suggestions', '{course_suggestion}', 'junior', NULL, 10),
    ('resources', 'Resource requests', '{resource_request}', 'junior', NULL, 10),
    ('senior', 'High-emotion tickets for senior agents', '{}', 'senior', NULL, 0);

-- What a ticket needs from an agent, and who has it.
ALTER TABLE queue_entry
    ADD COLUMN tier          TEXT NOT NULL DEFAULT 'junior',
    ADD COLUMN skill         TEXT,
    ADD COLUMN language      TEXT,
    ADD COLUMN segments      TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN agent_id      UUID,
    ADD COLUMN offer_expires_at TIMESTAMPTZ,
    ADD COLUMN escalations   INT NOT NULL DEFAULT 0;
CREATE INDEX queue_entry_agent_idx ON queue_entry (agent_id) WHERE status IN ('offered', 'assigned');

-- Every step of a ticket's way through routing, with its time: the truth behind the live state.
CREATE TABLE routing_log (
    id         BIGSERIAL   PRIMARY KEY,
    ticket_id  UUID        NOT NULL,
    -- queued, offered, offer_expired, declined, assigned, transferred, escalated, released
    kind       TEXT        NOT NULL,
    agent_id   UUID,
    queue      TEXT,
    detail     JSONB       NOT NULL DEFAULT '{}',
    at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX routing_log_ticket_idx ON routing_log (ticket_id, id);

-- A ticket an agent holds: counts against their capacity on its channel until released.
CREATE TABLE assignment (
    id          BIGSERIAL   PRIMARY KEY,
    ticket_id   UUID        NOT NULL,
    agent_id    UUID        NOT NULL,
    channel     TEXT        NOT NULL,
    how         TEXT        NOT NULL,
    assigned_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    released_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX assignment_open_idx ON assignment (ticket_id) WHERE released_at IS NULL;
CREATE INDEX assignment_agent_idx ON assignment (agent_id) WHERE released_at IS NULL;
CREATE INDEX assignment_released_idx ON assignment (released_at) WHERE released_at IS NOT NULL;

-- Service-level policies as data. Each target (first response, next update, resolution) comes
-- from the most specific active policy matching the ticket that sets it.
CREATE TABLE sla_policy (
    name                TEXT        PRIMARY KEY,
    description         TEXT        NOT NULL DEFAULT '',
    channels            TEXT[]      NOT NULL DEFAULT '{}',
    categories          TEXT[]      NOT NULL DEFAULT '{}',
    segments            TEXT[]      NOT NULL DEFAULT '{}',
    priorities          TEXT[]      NOT NULL DEFAULT '{}',
    tiers               TEXT[]      NOT NULL DEFAULT '{}',
    first_response_secs BIGINT,
    next_update_secs    BIGINT,
    resolution_secs     BIGINT,
    -- {"time_zone": "Asia/Shanghai", "hours": [{"days": [1,2,3,4,5], "start": "09:00", "end": "18:00"}]}
    business_hours      JSONB,
    -- A breach moves the ticket up a tier.
    escalate_on_breach  BOOLEAN     NOT NULL DEFAULT true,
    precedence          INT         NOT NULL DEFAULT 0,
    active              BOOLEAN     NOT NULL DEFAULT true,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO sla_policy (name, description, channels, categories, tiers, first_response_secs, next_update_secs,
                        resolution_secs, precedence) VALUES
    ('default', 'First response in 5 minutes, resolution in 24 hours, an update at least daily',
        '{}', '{}', '{}', 300, 86400, 86400, 0),
    ('live-chat', 'Live chat: first response in 30 seconds', '{chat}', '{}', '{}', 30, NULL, NULL, 10),
    ('email', 'Email answered within 24 hours', '{email}', '{}', '{}', 86400, NULL, NULL, 10),
    ('simple', 'Basic questions (junior tier) solved within 10 minutes', '{}', '{}', '{junior}', NULL, NULL, 600, 5),
    ('feedback', 'Feedback and suggestions handled within 48 hours', '{}', '{course_suggestion}', '{}', NULL, NULL, 172800, 20);

-- One running clock per ticket and metric.
CREATE TABLE sla_timer (
    ticket_id      UUID        NOT NULL,
    metric         TEXT        NOT NULL,
    policy         TEXT        NOT NULL,
    target_secs    BIGINT      NOT NULL,
    -- running, paused, fulfilled, breached, cancelled
    status         TEXT        NOT NULL,
    started_at     TIMESTAMPTZ NOT NULL,
    -- Seconds of (business) time used before the current run started.
    used_secs      DOUBLE PRECISION NOT NULL DEFAULT 0,
    run_started_at TIMESTAMPTZ,
    warn_at        TIMESTAMPTZ,
    due_at         TIMESTAMPTZ,
    warned_at      TIMESTAMPTZ,
    breached_at    TIMESTAMPTZ,
    finished_at    TIMESTAMPTZ,
    -- Bumped at every pause/resume/restart; the jobs carry it, so a stale job does nothing.
    generation     INT         NOT NULL DEFAULT 0,
    -- The policy's opening hours and breach rule when the clock started.
    business_hours JSONB,
    escalate       BOOLEAN     NOT NULL DEFAULT true,
    PRIMARY KEY (ticket_id, metric),
    CONSTRAINT sla_timer_metric_check CHECK (metric IN ('first_response', 'next_update', 'resolution')),
    CONSTRAINT sla_timer_status_check CHECK (status IN ('running', 'paused', 'fulfilled', 'breached', 'cancelled'))
);
CREATE INDEX sla_timer_finished_idx ON sla_timer (metric, finished_at);

-- What happened to each ticket's clocks, for frontends.
CREATE TABLE sla_log (
    id        BIGSERIAL   PRIMARY KEY,
    ticket_id UUID        NOT NULL,
    metric    TEXT        NOT NULL,
    -- applied, paused, resumed, warned, breached, fulfilled, cancelled
    kind      TEXT        NOT NULL,
    detail    JSONB       NOT NULL DEFAULT '{}',
    at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX sla_log_ticket_idx ON sla_log (ticket_id, id);

-- Arrivals per queue in the last hour, for the live view's estimates.
CREATE INDEX routing_log_queued_at_idx ON routing_log (at, queue) WHERE kind = 'queued';
