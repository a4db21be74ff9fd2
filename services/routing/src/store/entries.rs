//! Queue entries (the truth behind the live queues), with the routing log rows each change
//! writes and the events that commit with it.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use contracts::{AgentId, CustomerId, TicketId};
use platform::Tx;
use platform::bus::outbox::{self, Prepared};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::{Decode, Encode, PgExecutor, PgPool, Postgres, Type};

use crate::domain::entry::EntryStatus;

/// A ticket's entry: where it waits, what it needs, who has it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QueueEntryRow {
    pub ticket_id: TicketId,
    pub customer_id: CustomerId,
    pub queue: String,
    pub channel: String,
    pub priority: String,
    pub category: Option<String>,
    pub status: EntryStatus,
    /// Its place in line: the enqueue time in ms moved earlier by priority, VIP, high emotion
    /// and SLA warnings (lower is served first).
    pub score: f64,
    pub enqueued_at: DateTime<Utc>,
    pub high_emotion: bool,
    /// The tier it needs now.
    pub tier: String,
    pub skill: Option<String>,
    pub language: Option<String>,
    pub segments: Vec<String>,
    /// The agent it is offered to or held by.
    pub agent_id: Option<AgentId>,
    pub offer_expires_at: Option<DateTime<Utc>>,
    pub escalations: i32,
    /// Routing's version of the entry: bumped by every change, the `subjectseq` of the events
    /// about the ticket that change publishes.
    pub version: i64,
    /// The `subjectseq` of the last intake event about the ticket's status applied.
    pub intake_seq: Option<i64>,
}

/// Statuses are `text` columns holding [`EntryStatus::as_str`].
impl Type<Postgres> for EntryStatus {
    fn type_info() -> PgTypeInfo {
        <&str as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <&str as Type<Postgres>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Postgres> for EntryStatus {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        let s = <&str as Decode<Postgres>>::decode(value)?;
        EntryStatus::parse(s).ok_or_else(|| format!("unknown queue entry status {s:?}").into())
    }
}

impl Encode<'_, Postgres> for EntryStatus {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <&str as Encode<Postgres>>::encode(self.as_str(), buf)
    }
}

pub const COLUMNS: &str = "ticket_id, customer_id, queue, channel, priority, category, status, score, enqueued_at, \
                           high_emotion, tier, skill, language, segments, agent_id, offer_expires_at, escalations, \
                           version, intake_seq";

static INSERT_ENTRY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH e AS (INSERT INTO queue_entry (ticket_id, customer_id, queue, channel, priority, category, status, \
                                  score, enqueued_at, high_emotion, tier, skill, language, segments, version, \
                                  intake_seq) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 1, $19) \
             ON CONFLICT (ticket_id) DO NOTHING RETURNING {COLUMNS}), \
         l AS (INSERT INTO routing_log (ticket_id, kind, queue, detail, at) \
               SELECT ticket_id, CASE WHEN status = 'held' THEN 'held' ELSE 'queued' END, queue, \
                      jsonb_build_object('tier', tier, 'skill', skill, 'language', language), $9 FROM e), \
         o AS ({}) \
         SELECT {COLUMNS} FROM e",
        outbox::insert_select(
            "SELECT $15, $16, jsonb_set($17::jsonb, '{subjectseq}', to_jsonb(e.version)), $18 \
             FROM e WHERE $15::uuid IS NOT NULL"
        )
    )
});

/// Records a ticket's entry (version 1, logged at its `enqueued_at`, `intake_seq` the created
/// event's number) with its log entry and, when given, its event numbered 1 (all only when the
/// entry is new); `None` when it was recorded already.
#[tracing::instrument(skip_all, fields(ticket_id = %e.ticket_id))]
pub async fn insert_entry(
    tx: &mut Tx,
    e: &QueueEntryRow,
    event: Option<&Prepared>,
) -> Result<Option<QueueEntryRow>, sqlx::Error> {
    sqlx::query_as(&INSERT_ENTRY)
        .bind(e.ticket_id)
        .bind(e.customer_id)
        .bind(&e.queue)
        .bind(&e.channel)
        .bind(&e.priority)
        .bind(&e.category)
        .bind(e.status)
        .bind(e.score)
        .bind(e.enqueued_at)
        .bind(e.high_emotion)
        .bind(&e.tier)
        .bind(&e.skill)
        .bind(&e.language)
        .bind(&e.segments)
        .bind(event.map(|p| p.event_id))
        .bind(event.map(|p| &p.event_type))
        .bind(event.map(|p| &p.envelope))
        .bind(event.and_then(|p| p.traceparent.as_ref()))
        .bind(e.intake_seq)
        .fetch_optional(&mut **tx)
        .await
}

static ENTRY: LazyLock<String> = LazyLock::new(|| format!("SELECT {COLUMNS} FROM queue_entry WHERE ticket_id = $1"));

static ENTRY_FOR_UPDATE: LazyLock<String> = LazyLock::new(|| format!("{} FOR UPDATE", *ENTRY));

#[tracing::instrument(skip_all, fields(ticket_id = %ticket_id))]
pub async fn entry<'e>(db: impl PgExecutor<'e>, ticket_id: TicketId) -> Result<Option<QueueEntryRow>, sqlx::Error> {
    sqlx::query_as(&ENTRY).bind(ticket_id).fetch_optional(db).await
}

/// The entry, locked for the rest of the transaction.
pub async fn entry_for_update(tx: &mut Tx, ticket_id: TicketId) -> Result<Option<QueueEntryRow>, sqlx::Error> {
    let locked = sqlx::query_as(&ENTRY_FOR_UPDATE).bind(ticket_id);
    locked.fetch_optional(&mut **tx).await
}

/// A change to an entry, applied only when it is in one of `from` (and held by `agent_from`
/// when given), logged as `kind`.
pub struct Move<'a> {
    pub ticket_id: TicketId,
    pub from: &'a [EntryStatus],
    pub agent_from: Option<AgentId>,
    pub to: EntryStatus,
    /// The agent it is offered to or held by afterwards (`None`: nobody).
    pub agent: Option<AgentId>,
    pub offer_expires_at: Option<DateTime<Utc>>,
    /// New queue, score and enqueue time when it waits again.
    pub queue: Option<&'a str>,
    pub score: Option<f64>,
    pub enqueued_at: Option<DateTime<Utc>>,
    pub kind: &'a str,
    pub detail: serde_json::Value,
    /// When it happens (the log row's time).
    pub at: DateTime<Utc>,
    /// How many events about the ticket the move publishes, numbered up to the new version
    /// (the version goes up by at least one).
    pub events: i64,
}

impl<'a> Move<'a> {
    pub fn new(
        ticket_id: TicketId,
        from: &'a [EntryStatus],
        to: EntryStatus,
        kind: &'a str,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            ticket_id,
            from,
            agent_from: None,
            to,
            agent: None,
            offer_expires_at: None,
            queue: None,
            score: None,
            enqueued_at: None,
            kind,
            detail: serde_json::json!({}),
            at,
            events: 1,
        }
    }
}

/// Applies a move and logs it in one statement, bumping the entry's version; the entry after
/// it (the events it publishes are numbered up to its `version`), `None` when the entry was not
/// in a state the move applies to.
pub async fn apply(tx: &mut Tx, m: &Move<'_>) -> Result<Option<QueueEntryRow>, sqlx::Error> {
    let from: Vec<&str> = m.from.iter().map(|s| s.as_str()).collect();
    sqlx::query_as(&format!(
        "WITH e AS (UPDATE queue_entry SET status = $3, agent_id = $4, offer_expires_at = $5, \
                        queue = COALESCE($6, queue), score = COALESCE($7, score), \
                        enqueued_at = COALESCE($8, enqueued_at), updated_at = now(), \
                        version = version + GREATEST($13, 1) \
                    WHERE ticket_id = $1 AND status = ANY($2) AND ($9::uuid IS NULL OR agent_id = $9) \
                    RETURNING {COLUMNS}), \
         l AS (INSERT INTO routing_log (ticket_id, kind, agent_id, queue, detail, at) \
               SELECT ticket_id, $10, $4, queue, $11, $12 FROM e) \
         SELECT {COLUMNS} FROM e"
    ))
    .bind(m.ticket_id)
    .bind(&from)
    .bind(m.to)
    .bind(m.agent)
    .bind(m.offer_expires_at)
    .bind(m.queue)
    .bind(m.score)
    .bind(m.enqueued_at)
    .bind(m.agent_from)
    .bind(m.kind)
    .bind(&m.detail)
    .bind(m.at)
    .bind(m.events)
    .fetch_optional(&mut **tx)
    .await
}

/// What a ticket needs now and its place, as [`set_requirement`] writes them.
pub struct Requirement<'a> {
    pub tier: &'a str,
    pub priority: &'a str,
    pub score: f64,
}

/// Changes what a ticket needs (an escalation) and its place, logged as `kind` at `at`, bumping
/// the entry's version (the number of the event reporting it).
pub async fn set_requirement(
    tx: &mut Tx,
    ticket: TicketId,
    r: Requirement<'_>,
    kind: &str,
    detail: serde_json::Value,
    at: DateTime<Utc>,
) -> Result<Option<QueueEntryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "WITH e AS (UPDATE queue_entry SET tier = $2, priority = $3, score = $4, \
                        escalations = escalations + CASE WHEN $5 = 'escalated' THEN 1 ELSE 0 END, updated_at = now(), \
                        version = version + 1 \
                    WHERE ticket_id = $1 RETURNING {COLUMNS}), \
         l AS (INSERT INTO routing_log (ticket_id, kind, agent_id, queue, detail, at) \
               SELECT ticket_id, $5, agent_id, queue, $6, $7 FROM e) \
         SELECT {COLUMNS} FROM e"
    ))
    .bind(ticket)
    .bind(r.tier)
    .bind(r.priority)
    .bind(r.score)
    .bind(kind)
    .bind(detail)
    .bind(at)
    .fetch_optional(&mut **tx)
    .await
}

/// Sets the skill a ticket needs, when `skill` names one (a transfer to a queue that asks for it).
pub async fn set_skill(tx: &mut Tx, ticket: TicketId, skill: Option<&str>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE queue_entry SET skill = COALESCE($2, skill) WHERE ticket_id = $1")
        .bind(ticket)
        .bind(skill)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Entries an agent holds or was offered.
pub async fn entries_of(pool: &PgPool, agent: AgentId, status: EntryStatus) -> Result<Vec<QueueEntryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM queue_entry WHERE agent_id = $1 AND status = $2 ORDER BY updated_at"
    ))
    .bind(agent)
    .bind(status)
    .fetch_all(pool)
    .await
}

/// Every entry that is live (waiting, offered or assigned), for a rebuild.
pub async fn live_entries(pool: &PgPool) -> Result<Vec<QueueEntryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM queue_entry WHERE status IN ('waiting', 'offered', 'assigned')"
    ))
    .fetch_all(pool)
    .await
}

/// Entries that started waiting at or after `since` (a rebuild queues them again). By real time:
/// `updated_at` is bookkeeping written with the database's `now()`, compared only to close a
/// race between transactions, never by a rule of the service's clock.
pub async fn waiting_since(pool: &PgPool, since: DateTime<Utc>) -> Result<Vec<QueueEntryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM queue_entry WHERE status = 'waiting' AND updated_at >= $1"
    ))
    .bind(since)
    .fetch_all(pool)
    .await
}

/// Per waiting ticket, the agents whose offer of it lapsed, who declined it or went away with
/// it (a rebuild keeps them from being offered it again).
pub async fn tried_agents(pool: &PgPool) -> Result<Vec<(TicketId, Vec<AgentId>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT l.ticket_id, array_agg(DISTINCT l.agent_id) FROM routing_log l \
         JOIN queue_entry e ON e.ticket_id = l.ticket_id AND e.status = 'waiting' \
         WHERE l.kind IN ('offer_expired', 'declined', 'agent_away') AND l.agent_id IS NOT NULL \
         GROUP BY l.ticket_id",
    )
    .fetch_all(pool)
    .await
}

/// One claim Redis granted, to be written: an offer (`offer_expires_at` set) or an assignment
/// of a waiting ticket to `agent`, with its log detail and event.
#[derive(Debug, Clone)]
pub struct Claim {
    pub ticket: TicketId,
    pub agent: AgentId,
    pub offer_expires_at: Option<DateTime<Utc>>,
    pub how: &'static str,
    pub detail: serde_json::Value,
    /// Its event, numbered in the statement with the entry's new version.
    pub event: Prepared,
    /// When it was granted (the log row's and the assignment's time).
    pub at: DateTime<Utc>,
}

static CLAIMS: LazyLock<String> = LazyLock::new(|| {
    let q_columns: String = COLUMNS
        .split(", ")
        .map(|c| format!("q.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "WITH x AS (SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[], $5::jsonb[], \
                                         $6::uuid[], $7::text[], $8::text[]::jsonb[], $9::text[], $10::timestamptz[]) \
                    AS x(ticket_id, agent_id, expires, how, detail, event_id, event_type, envelope, traceparent, \
                         at)), \
         e AS (UPDATE queue_entry q SET status = CASE WHEN x.expires IS NULL THEN 'assigned' ELSE 'offered' END, \
                      agent_id = x.agent_id, offer_expires_at = x.expires, updated_at = now(), \
                      version = q.version + 1 \
               FROM x WHERE q.ticket_id = x.ticket_id AND q.status = 'waiting' \
               RETURNING {q_columns}, x.how, x.detail, x.event_id, x.event_type, x.envelope, x.traceparent, x.at), \
         l AS (INSERT INTO routing_log (ticket_id, kind, agent_id, queue, detail, at) \
               SELECT ticket_id, status, agent_id, queue, detail, at FROM e), \
         a AS (INSERT INTO assignment (ticket_id, agent_id, channel, how, assigned_at) \
               SELECT ticket_id, agent_id, channel, how, at FROM e WHERE status = 'assigned'), \
         o AS ({}) \
         SELECT {COLUMNS} FROM e",
        outbox::insert_select(
            "SELECT event_id, event_type, jsonb_set(envelope, '{subjectseq}', to_jsonb(version)), traceparent FROM e"
        )
    )
});

/// Writes claims in one statement: for each, the entry (its version bumped), its log row, the
/// assignment (when assigned) and the event (numbered with the new version) commit together. Returns the entries written; a claim whose entry is
/// not waiting (or not yet committed) writes nothing and is absent.
pub async fn claims(pool: &PgPool, claims: &[Claim]) -> Result<Vec<QueueEntryRow>, sqlx::Error> {
    sqlx::query_as(&CLAIMS)
        .bind(claims.iter().map(|c| c.ticket).collect::<Vec<_>>())
        .bind(claims.iter().map(|c| c.agent).collect::<Vec<_>>())
        .bind(claims.iter().map(|c| c.offer_expires_at).collect::<Vec<_>>())
        .bind(claims.iter().map(|c| c.how).collect::<Vec<_>>())
        .bind(claims.iter().map(|c| &c.detail).collect::<Vec<_>>())
        .bind(claims.iter().map(|c| c.event.event_id).collect::<Vec<_>>())
        .bind(claims.iter().map(|c| c.event.event_type.as_str()).collect::<Vec<_>>())
        .bind(claims.iter().map(|c| &c.event.envelope).collect::<Vec<_>>())
        .bind(
            claims
                .iter()
                .map(|c| c.event.traceparent.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(claims.iter().map(|c| c.at).collect::<Vec<_>>())
        .fetch_all(pool)
        .await
}

/// Whether an intake event about a ticket's status is to be applied (see [`intake_order`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntakeOrder {
    /// Newer than any applied (or unnumbered): apply it; the entry stays locked.
    Apply,
    /// Not newer than the last applied: skip it.
    Stale,
    /// Routing has no entry for the ticket (its `created` has not landed yet).
    Unknown,
}

/// Records intake's `seq` as the last applied about the ticket when it is newer than the last
/// (the row locked for the rest of the transaction, so the event's effect and its number commit
/// together and concurrent events about the ticket take turns); says whether to apply it.
pub async fn intake_order(tx: &mut Tx, ticket: TicketId, seq: Option<i64>) -> Result<IntakeOrder, sqlx::Error> {
    let (applied, known): (bool, bool) = sqlx::query_as(
        "WITH u AS (UPDATE queue_entry SET intake_seq = COALESCE($2, intake_seq) \
                    WHERE ticket_id = $1 AND ($2::bigint IS NULL OR intake_seq IS NULL OR intake_seq < $2) \
                    RETURNING 1) \
         SELECT EXISTS (SELECT 1 FROM u), EXISTS (SELECT 1 FROM queue_entry WHERE ticket_id = $1)",
    )
    .bind(ticket)
    .bind(seq)
    .fetch_one(&mut **tx)
    .await?;
    Ok(match (applied, known) {
        (true, _) => IntakeOrder::Apply,
        (false, true) => IntakeOrder::Stale,
        (false, false) => IntakeOrder::Unknown,
    })
}

/// Bumps the entry's version for an event that reports no other change to it; the new version
/// (`None`: no entry).
pub async fn bump_version(tx: &mut Tx, ticket: TicketId) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("UPDATE queue_entry SET version = version + 1 WHERE ticket_id = $1 RETURNING version")
        .bind(ticket)
        .fetch_optional(&mut **tx)
        .await
}
