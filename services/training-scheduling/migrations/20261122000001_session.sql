-- A training session (for customers or staff) or a class, at a time, with seats.
CREATE TABLE session (
    id          UUID        PRIMARY KEY,
    kind        TEXT        NOT NULL,
    title       TEXT        NOT NULL,
    mode        TEXT        NOT NULL,
    starts_at   TIMESTAMPTZ NOT NULL,
    ends_at     TIMESTAMPTZ NOT NULL,
    time_zone   TEXT        NOT NULL,
    capacity    INTEGER     NOT NULL,
    created_by  UUID        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT session_kind_check CHECK (kind IN ('customer_training', 'staff_training', 'class')),
    CONSTRAINT session_mode_check CHECK (mode IN ('online', 'on_site')),
    CONSTRAINT session_time_check CHECK (ends_at > starts_at),
    CONSTRAINT session_capacity_check CHECK (capacity > 0)
);
CREATE INDEX session_starts_at_idx ON session (starts_at, id);
