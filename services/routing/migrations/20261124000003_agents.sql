-- Agents: who can take which tickets, and how many at once.
CREATE TABLE agent (
    id            UUID        PRIMARY KEY,
    display_name  TEXT        NOT NULL,
    tier          TEXT        NOT NULL,
    -- Ticket categories and technical sub-skills (technical.hardware, technical.software,
    -- technical.network) the agent handles.
    skills        TEXT[]      NOT NULL DEFAULT '{}',
    languages     TEXT[]      NOT NULL DEFAULT '{zh-CN}',
    -- Concurrent tickets per channel: {"chat": 3, "email": 8}.
    capacity      JSONB       NOT NULL,
    time_zone     TEXT        NOT NULL DEFAULT 'Asia/Shanghai',
    -- [{"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "18:00"}], ISO weekdays, local time.
    working_hours JSONB       NOT NULL DEFAULT '[]',
    supervisor_id UUID,
    active        BOOLEAN     NOT NULL DEFAULT true,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT agent_tier_check CHECK (tier IN ('junior', 'mid', 'senior'))
);
CREATE INDEX agent_tier_idx ON agent (tier) WHERE active;
