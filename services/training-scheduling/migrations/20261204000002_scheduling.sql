-- Courses, classes and trainings with their recurring schedules, the sessions they expand to,
-- seats and the waitlist, class enrolments with guardians, the log of changes to sessions and
-- the calendar feeds' secret tokens.
--
-- The stub's sessions are kept: each becomes a one-session offering of its own.

-- `=` on uuid and text inside a GiST exclusion constraint.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE course (
    id          UUID        PRIMARY KEY,
    -- The company's key for the course (`math-101`), as refund's enrolments carry it.
    code        TEXT        NOT NULL,
    title       TEXT        NOT NULL,
    description TEXT        NOT NULL DEFAULT '',
    created_by  UUID        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT course_code_key UNIQUE (code)
);

-- What has a schedule of sessions: a class (a cohort of a course, its students enrolled by the
-- company's systems) or a training (customers or staff register per session).
CREATE TABLE offering (
    id               UUID        PRIMARY KEY,
    kind             TEXT        NOT NULL,
    course_id        UUID        REFERENCES course (id),
    -- A class's key as the company's systems name it (`math-101-a`); null for trainings.
    code             TEXT,
    title            TEXT        NOT NULL,
    description      TEXT        NOT NULL DEFAULT '',
    -- Who a training is for: `students`, `parents`, `teachers`, `institutions`, `staff`.
    audience         TEXT[]      NOT NULL DEFAULT '{}',
    mode             TEXT        NOT NULL,
    meeting_url      TEXT,
    room             TEXT,
    trainer_id       UUID,
    advisor_id       UUID,
    -- Seats: per session for a training, for the whole class for a class.
    capacity         INTEGER     NOT NULL,
    min_attendance   INTEGER     NOT NULL DEFAULT 0,
    time_zone        TEXT        NOT NULL,
    -- The RFC 5545 rule (without `RRULE:`), anchored at `first_starts_at`; null for one session.
    rrule            TEXT,
    first_starts_at  TIMESTAMPTZ NOT NULL,
    duration_minutes INTEGER     NOT NULL,
    -- A class's active enrolments.
    seats_taken      INTEGER     NOT NULL DEFAULT 0,
    -- Bumped on every change of the offering itself (the iCalendar master's SEQUENCE).
    sequence         INTEGER     NOT NULL DEFAULT 0,
    created_by       UUID        NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    CONSTRAINT offering_kind_check CHECK (kind IN ('customer_training', 'staff_training', 'class')),
    CONSTRAINT offering_mode_check CHECK (mode IN ('online', 'on_site')),
    CONSTRAINT offering_class_course_check CHECK ((kind = 'class') = (course_id IS NOT NULL AND code IS NOT NULL)),
    CONSTRAINT offering_capacity_check CHECK (capacity > 0),
    CONSTRAINT offering_min_attendance_check CHECK (min_attendance >= 0 AND min_attendance <= capacity),
    CONSTRAINT offering_duration_check CHECK (duration_minutes > 0),
    CONSTRAINT offering_seats_check CHECK (seats_taken >= 0),
    CONSTRAINT offering_code_key UNIQUE (code)
);
CREATE INDEX offering_course_idx ON offering (course_id) WHERE course_id IS NOT NULL;

INSERT INTO offering (id, kind, course_id, code, title, mode, capacity, time_zone, first_starts_at,
                      duration_minutes, created_by, created_at, updated_at)
SELECT id, CASE kind WHEN 'class' THEN 'customer_training' ELSE kind END, NULL, NULL, title, mode, capacity,
       time_zone, starts_at, GREATEST(1, (EXTRACT(EPOCH FROM (ends_at - starts_at)) / 60)::INTEGER), created_by,
       created_at, updated_at
FROM session;
UPDATE session SET kind = 'customer_training' WHERE kind = 'class';

-- One occurrence. `original_starts_at` is where the rule put it (the iCalendar RECURRENCE-ID);
-- `starts_at` where it is now.
ALTER TABLE session
    ADD COLUMN offering_id        UUID REFERENCES offering (id),
    ADD COLUMN occurrence         INTEGER     NOT NULL DEFAULT 1,
    ADD COLUMN original_starts_at TIMESTAMPTZ,
    ADD COLUMN trainer_id         UUID,
    ADD COLUMN room               TEXT,
    ADD COLUMN meeting_url        TEXT,
    ADD COLUMN status             TEXT        NOT NULL DEFAULT 'scheduled',
    ADD COLUMN seats_taken        INTEGER     NOT NULL DEFAULT 0,
    -- Waitlist positions handed out so far: the next one is this + 1 (taken in the admitting
    -- transaction under the session's row lock, so positions have no gap and no duplicate).
    ADD COLUMN waitlist_issued    INTEGER     NOT NULL DEFAULT 0,
    -- Bumped on every change (the iCalendar SEQUENCE of this occurrence).
    ADD COLUMN sequence           INTEGER     NOT NULL DEFAULT 0;
UPDATE session SET offering_id = id, original_starts_at = starts_at;
ALTER TABLE session
    ALTER COLUMN offering_id SET NOT NULL,
    ALTER COLUMN original_starts_at SET NOT NULL,
    ALTER COLUMN created_at DROP DEFAULT,
    ALTER COLUMN updated_at DROP DEFAULT,
    ADD CONSTRAINT session_status_check CHECK (status IN ('scheduled', 'cancelled')),
    ADD CONSTRAINT session_seats_check CHECK (seats_taken >= 0 AND seats_taken <= capacity),
    ADD CONSTRAINT session_occurrence_key UNIQUE (offering_id, occurrence),
    -- Nobody teaches two sessions at once, and no room holds two: enforced here, whatever the
    -- code above does.
    ADD CONSTRAINT session_trainer_overlap EXCLUDE USING gist (
        trainer_id WITH =, tstzrange(starts_at, ends_at) WITH &&
    ) WHERE (status = 'scheduled' AND trainer_id IS NOT NULL),
    ADD CONSTRAINT session_room_overlap EXCLUDE USING gist (
        room WITH =, tstzrange(starts_at, ends_at) WITH &&
    ) WHERE (status = 'scheduled' AND room IS NOT NULL);
ALTER TABLE session DROP CONSTRAINT session_kind_check;
ALTER TABLE session ADD CONSTRAINT session_kind_check CHECK (kind IN ('customer_training', 'staff_training', 'class'));
CREATE INDEX session_offering_idx ON session (offering_id, starts_at);
CREATE INDEX session_trainer_idx ON session (trainer_id, starts_at) WHERE trainer_id IS NOT NULL;

-- Who moved or cancelled a session, when and why.
CREATE TABLE session_change (
    id                 BIGSERIAL   PRIMARY KEY,
    session_id         UUID        NOT NULL REFERENCES session (id),
    action             TEXT        NOT NULL,
    previous_starts_at TIMESTAMPTZ NOT NULL,
    previous_ends_at   TIMESTAMPTZ NOT NULL,
    starts_at          TIMESTAMPTZ NOT NULL,
    ends_at            TIMESTAMPTZ NOT NULL,
    reason             TEXT        NOT NULL,
    actor_id           UUID,
    at                 TIMESTAMPTZ NOT NULL,
    CONSTRAINT session_change_action_check CHECK (action IN ('rescheduled', 'cancelled'))
);
CREATE INDEX session_change_session_idx ON session_change (session_id, id);

-- A seat (or a place on the waitlist) in one session of a training.
CREATE TABLE registration (
    id                UUID        PRIMARY KEY,
    session_id        UUID        NOT NULL REFERENCES session (id),
    offering_id       UUID        NOT NULL REFERENCES offering (id),
    participant_id    UUID        NOT NULL,
    -- `customer` or `staff`.
    participant_kind  TEXT        NOT NULL,
    -- The participant's guardians (parents), as customer ids: told of what happens too.
    guardian_ids      UUID[]      NOT NULL DEFAULT '{}',
    status            TEXT        NOT NULL,
    waitlist_position INTEGER,
    registered_by     UUID        NOT NULL,
    promoted_at       TIMESTAMPTZ,
    cancelled_at      TIMESTAMPTZ,
    cancelled_by      UUID,
    cancel_reason     TEXT,
    -- The registration that took its place when the participant moved to another session.
    rescheduled_to    UUID REFERENCES registration (id),
    -- 1 when admitted, +1 per step (the events' `subjectseq`).
    version           INTEGER     NOT NULL DEFAULT 1,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    CONSTRAINT registration_status_check CHECK (status IN ('confirmed', 'waitlisted', 'cancelled')),
    CONSTRAINT registration_participant_kind_check CHECK (participant_kind IN ('customer', 'staff')),
    CONSTRAINT registration_waitlist_check CHECK (status <> 'waitlisted' OR waitlist_position IS NOT NULL),
    CONSTRAINT registration_position_key UNIQUE (session_id, waitlist_position)
);
-- One live registration per participant and session.
CREATE UNIQUE INDEX registration_participant_key ON registration (session_id, participant_id)
    WHERE status <> 'cancelled';
-- Promotion takes the lowest position first.
CREATE INDEX registration_waitlist_idx ON registration (session_id, waitlist_position) WHERE status = 'waitlisted';
CREATE INDEX registration_participant_idx ON registration (participant_id, created_at);
CREATE INDEX registration_guardian_idx ON registration USING gin (guardian_ids);

-- A student's place in a class, under the enrolment id the company's systems issued (the one
-- refund's records carry).
CREATE TABLE enrolment (
    id           UUID        PRIMARY KEY,
    class_id     UUID        NOT NULL REFERENCES offering (id),
    customer_id  UUID        NOT NULL,
    guardian_ids UUID[]      NOT NULL DEFAULT '{}',
    status       TEXT        NOT NULL,
    -- The class it was transferred from (the last transfer), and by which refund request.
    transferred_from UUID REFERENCES offering (id),
    transfer_request_id UUID,
    version      INTEGER     NOT NULL DEFAULT 1,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    CONSTRAINT enrolment_status_check CHECK (status IN ('active', 'withdrawn'))
);
CREATE INDEX enrolment_class_idx ON enrolment (class_id) WHERE status = 'active';
CREATE INDEX enrolment_customer_idx ON enrolment (customer_id);
CREATE INDEX enrolment_guardian_idx ON enrolment USING gin (guardian_ids);

-- A person's calendar feed: only the SHA-256 of the secret URL token is kept.
CREATE TABLE calendar_feed (
    token_hash TEXT        PRIMARY KEY,
    person_id  UUID        NOT NULL,
    -- `participant` (their registrations and classes, as participant or guardian) or `trainer`.
    view       TEXT        NOT NULL,
    created_by UUID        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ,
    CONSTRAINT calendar_feed_view_check CHECK (view IN ('participant', 'trainer'))
);
CREATE UNIQUE INDEX calendar_feed_live_key ON calendar_feed (person_id, view) WHERE revoked_at IS NULL;
