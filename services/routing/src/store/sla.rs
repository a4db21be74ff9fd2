//! Service-level policies, clocks (`sla_timer`) and their log.

use chrono::{DateTime, Utc};
use contracts::TicketId;
use platform::Tx;
use sqlx::PgPool;
use sqlx::types::Json;
use uuid::Uuid;

use crate::domain::sla::{BusinessHours, Policy};

/// A clock as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TimerRow {
    pub ticket_id: TicketId,
    pub metric: String,
    pub policy: String,
    pub target_secs: i64,
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub used_secs: f64,
    pub run_started_at: Option<DateTime<Utc>>,
    pub warn_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    pub warned_at: Option<DateTime<Utc>>,
    pub breached_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub generation: i32,
    pub business_hours: Option<Json<BusinessHours>>,
    pub escalate: bool,
}

/// A step of a ticket's clocks.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SlaLogRow {
    pub metric: String,
    /// `applied`, `paused`, `resumed`, `warned`, `breached`, `fulfilled`, `cancelled`.
    pub kind: String,
    pub detail: serde_json::Value,
    pub at: DateTime<Utc>,
}

const TIMER_COLUMNS: &str = "ticket_id, metric, policy, target_secs, status, started_at, used_secs, run_started_at, \
                             warn_at, due_at, warned_at, breached_at, finished_at, generation, business_hours, escalate";

const POLICY_COLUMNS: &str = "name, description, channels, categories, segments, priorities, tiers, first_response_secs, \
                              next_update_secs, resolution_secs, business_hours, escalate_on_breach, precedence, active";

pub async fn list_policies(pool: &PgPool) -> Result<Vec<Policy>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {POLICY_COLUMNS} FROM sla_policy ORDER BY name"))
        .fetch_all(pool)
        .await
}

/// Inserts or replaces a policy; true when new.
pub async fn upsert_policy(pool: &PgPool, p: &Policy) -> Result<(Policy, bool), sqlx::Error> {
    let existed: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM sla_policy WHERE name = $1)")
        .bind(&p.name)
        .fetch_one(pool)
        .await?;
    let row: Policy = sqlx::query_as(&format!(
        "INSERT INTO sla_policy ({POLICY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description, channels = EXCLUDED.channels, \
            categories = EXCLUDED.categories, segments = EXCLUDED.segments, priorities = EXCLUDED.priorities, \
            tiers = EXCLUDED.tiers, first_response_secs = EXCLUDED.first_response_secs, \
            next_update_secs = EXCLUDED.next_update_secs, resolution_secs = EXCLUDED.resolution_secs, \
            business_hours = EXCLUDED.business_hours, escalate_on_breach = EXCLUDED.escalate_on_breach, \
            precedence = EXCLUDED.precedence, active = EXCLUDED.active, updated_at = now() \
         RETURNING {POLICY_COLUMNS}"
    ))
    .bind(&p.name)
    .bind(&p.description)
    .bind(&p.channels)
    .bind(&p.categories)
    .bind(&p.segments)
    .bind(&p.priorities)
    .bind(&p.tiers)
    .bind(p.first_response_secs)
    .bind(p.next_update_secs)
    .bind(p.resolution_secs)
    .bind(&p.business_hours)
    .bind(p.escalate_on_breach)
    .bind(p.precedence)
    .bind(p.active)
    .fetch_one(pool)
    .await?;
    Ok((row, !existed))
}

/// One clock to (re)start.
pub struct Run {
    pub metric: String,
    pub policy: String,
    pub target_secs: i64,
    pub used_secs: f64,
    pub warn_at: Option<DateTime<Utc>>,
    pub due_at: DateTime<Utc>,
    pub hours: Option<BusinessHours>,
    pub escalate: bool,
}

/// The warning and breach jobs a started clock gets.
pub struct ClockJobs<'a> {
    pub warn_kind: &'a str,
    pub breach_kind: &'a str,
    pub max_attempts: i32,
    pub traceparent: Option<String>,
}

/// Whether starting a clock the ticket already has starts it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// Kept as it is (a clock starts once per ticket).
    No,
    /// Started again with a new generation (the next-update clock after each update).
    Yes,
}

/// Starts `runs` for a ticket, logged as `kind`, with their warning and breach jobs, in one
/// statement. The jobs carry the generation the clock got (a restarted clock's old jobs do
/// nothing); their payload and dedupe key are those a scheduled `TimerJob` has
/// (`{ticket_id, metric, generation}`, "ticket:metric:gen").
pub async fn start(
    tx: &mut Tx,
    ticket: TicketId,
    runs: &[Run],
    restart: Restart,
    kind: &str,
    now: DateTime<Utc>,
    jobs: &ClockJobs<'_>,
) -> Result<(), sqlx::Error> {
    let hours: Vec<Option<serde_json::Value>> = runs
        .iter()
        .map(|r| r.hours.as_ref().and_then(|h| serde_json::to_value(h).ok()))
        .collect();
    let warn_ids: Vec<Uuid> = runs.iter().map(|_| Uuid::now_v7()).collect();
    let breach_ids: Vec<Uuid> = runs.iter().map(|_| Uuid::now_v7()).collect();
    sqlx::query(
        "WITH x AS (SELECT * FROM unnest($3::text[], $4::text[], $5::bigint[], $6::float8[], $7::timestamptz[], \
                                       $8::timestamptz[], $9::jsonb[], $10::bool[], $13::uuid[], $14::uuid[]) \
                    AS x(m, p, s, u, w, d, h, e, warn_id, breach_id)), \
         t AS (INSERT INTO sla_timer (ticket_id, metric, policy, target_secs, status, started_at, used_secs, \
                                run_started_at, warn_at, due_at, business_hours, escalate) \
             SELECT $1, m, p, s, 'running', $2, u, $2, w, d, h, e FROM x \
             ON CONFLICT (ticket_id, metric) DO UPDATE SET policy = EXCLUDED.policy, \
                target_secs = EXCLUDED.target_secs, status = 'running', started_at = EXCLUDED.started_at, \
                used_secs = EXCLUDED.used_secs, run_started_at = EXCLUDED.run_started_at, \
                warn_at = EXCLUDED.warn_at, due_at = EXCLUDED.due_at, warned_at = NULL, breached_at = NULL, \
                finished_at = NULL, business_hours = EXCLUDED.business_hours, escalate = EXCLUDED.escalate, \
                generation = sla_timer.generation + 1 \
             WHERE $11 \
             RETURNING metric, policy, target_secs, warn_at, due_at, generation), \
         l AS (INSERT INTO sla_log (ticket_id, metric, kind, detail, at) \
               SELECT $1, metric, $12, jsonb_build_object('policy', policy, 'target_secs', target_secs, \
                      'due_at', due_at), $2 FROM t) \
         INSERT INTO scheduled_job (id, kind, dedupe_key, payload, due_at, max_attempts, traceparent) \
         SELECT k.id, k.kind, $1::text || ':' || t.metric || ':' || t.generation, \
                jsonb_build_object('ticket_id', $1, 'metric', t.metric, 'generation', t.generation), \
                k.at, $17, $18 \
         FROM t JOIN x ON x.m = t.metric \
         CROSS JOIN LATERAL (VALUES (x.warn_id, $15, t.warn_at), (x.breach_id, $16, t.due_at)) AS k(id, kind, at) \
         WHERE k.at IS NOT NULL \
         ON CONFLICT (kind, dedupe_key) DO NOTHING",
    )
    .bind(ticket)
    .bind(now)
    .bind(runs.iter().map(|r| r.metric.clone()).collect::<Vec<_>>())
    .bind(runs.iter().map(|r| r.policy.clone()).collect::<Vec<_>>())
    .bind(runs.iter().map(|r| r.target_secs).collect::<Vec<_>>())
    .bind(runs.iter().map(|r| r.used_secs).collect::<Vec<_>>())
    .bind(runs.iter().map(|r| r.warn_at).collect::<Vec<_>>())
    .bind(runs.iter().map(|r| r.due_at).collect::<Vec<_>>())
    .bind(&hours)
    .bind(runs.iter().map(|r| r.escalate).collect::<Vec<_>>())
    .bind(restart == Restart::Yes)
    .bind(kind)
    .bind(&warn_ids)
    .bind(&breach_ids)
    .bind(jobs.warn_kind)
    .bind(jobs.breach_kind)
    .bind(jobs.max_attempts)
    .bind(&jobs.traceparent)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Stops a clock that is open (a breached one stays counted as breached), logged as
/// fulfilled; whether there was one.
pub async fn fulfil(tx: &mut Tx, ticket: TicketId, metric: &str, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "WITH t AS (UPDATE sla_timer SET status = CASE WHEN status = 'breached' THEN 'breached' ELSE 'fulfilled' END, \
                        finished_at = $3 \
                    WHERE ticket_id = $1 AND metric = $2 AND finished_at IS NULL \
                      AND status IN ('running', 'paused', 'breached') \
                    RETURNING metric, status), \
         l AS (INSERT INTO sla_log (ticket_id, metric, kind, detail, at) \
               SELECT $1, metric, 'fulfilled', jsonb_build_object('within_target', status = 'fulfilled'), $3 FROM t) \
         SELECT count(*) FROM t",
    )
    .bind(ticket)
    .bind(metric)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    Ok(n > 0)
}

/// Stops every open clock of a ticket, logged as cancelled for `reason`.
pub async fn stop_all(tx: &mut Tx, ticket: TicketId, reason: &str, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH t AS (UPDATE sla_timer SET status = CASE WHEN status IN ('running', 'paused') THEN 'cancelled' \
                                                        ELSE status END, finished_at = $3 \
                    WHERE ticket_id = $1 AND finished_at IS NULL RETURNING metric) \
         INSERT INTO sla_log (ticket_id, metric, kind, detail, at) \
         SELECT $1, metric, 'cancelled', jsonb_build_object('reason', $2::text), $3 FROM t",
    )
    .bind(ticket)
    .bind(reason)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A ticket's clocks in `status`, locked.
pub async fn locked(tx: &mut Tx, ticket: TicketId, status: &str) -> Result<Vec<TimerRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {TIMER_COLUMNS} FROM sla_timer WHERE ticket_id = $1 AND status = $2 ORDER BY metric FOR UPDATE"
    ))
    .bind(ticket)
    .bind(status)
    .fetch_all(&mut **tx)
    .await
}

/// Pauses a clock with `used` seconds counted, logged.
pub async fn pause(
    tx: &mut Tx,
    ticket: TicketId,
    metric: &str,
    used: f64,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH t AS (UPDATE sla_timer SET status = 'paused', used_secs = $3, run_started_at = NULL, \
                        generation = generation + 1 WHERE ticket_id = $1 AND metric = $2 RETURNING metric) \
         INSERT INTO sla_log (ticket_id, metric, kind, detail, at) \
         SELECT $1, metric, 'paused', jsonb_build_object('used_secs', round($3::numeric, 1)), $4 FROM t",
    )
    .bind(ticket)
    .bind(metric)
    .bind(used)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Runs a paused clock again, due at `due` (warned at `warn`), logged; its new generation.
pub async fn resume(
    tx: &mut Tx,
    ticket: TicketId,
    metric: &str,
    now: DateTime<Utc>,
    due: DateTime<Utc>,
    warn: Option<DateTime<Utc>>,
) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar(
        "WITH t AS (UPDATE sla_timer SET status = 'running', run_started_at = $3, due_at = $4, warn_at = $5, \
                        generation = generation + 1 WHERE ticket_id = $1 AND metric = $2 \
                    RETURNING metric, generation), \
         l AS (INSERT INTO sla_log (ticket_id, metric, kind, detail, at) \
               SELECT $1, metric, 'resumed', jsonb_build_object('due_at', $4::timestamptz), $3 FROM t) \
         SELECT generation FROM t",
    )
    .bind(ticket)
    .bind(metric)
    .bind(now)
    .bind(due)
    .bind(warn)
    .fetch_one(&mut **tx)
    .await
}

/// The running clock of `generation`, locked; `None` when it moved on.
pub async fn current(
    tx: &mut Tx,
    ticket: TicketId,
    metric: &str,
    generation: i32,
) -> Result<Option<TimerRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {TIMER_COLUMNS} FROM sla_timer WHERE ticket_id = $1 AND metric = $2 AND generation = $3 \
           AND status = 'running' FOR UPDATE"
    ))
    .bind(ticket)
    .bind(metric)
    .bind(generation)
    .fetch_optional(&mut **tx)
    .await
}

/// What happened to a running clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// The 80% warning.
    Warned,
    /// The target was missed.
    Breached,
}

impl Mark {
    fn as_str(self) -> &'static str {
        match self {
            Mark::Warned => "warned",
            Mark::Breached => "breached",
        }
    }
}

/// Marks a clock warned or breached, logged with `detail`.
pub async fn mark(
    tx: &mut Tx,
    t: &TimerRow,
    mark: Mark,
    now: DateTime<Utc>,
    detail: serde_json::Value,
) -> Result<(), sqlx::Error> {
    let sql = match mark {
        Mark::Breached => {
            "UPDATE sla_timer SET status = 'breached', breached_at = $3 WHERE ticket_id = $1 AND metric = $2"
        }
        Mark::Warned => "UPDATE sla_timer SET warned_at = $3 WHERE ticket_id = $1 AND metric = $2",
    };
    sqlx::query(sql)
        .bind(t.ticket_id)
        .bind(&t.metric)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    sqlx::query("INSERT INTO sla_log (ticket_id, metric, kind, detail, at) VALUES ($1, $2, $3, $4, $5)")
        .bind(t.ticket_id)
        .bind(&t.metric)
        .bind(mark.as_str())
        .bind(detail)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A ticket's clocks and their log, read from one snapshot so that the two agree (a clock
/// marked breached in between would otherwise show a "breached" log entry beside a running
/// clock).
pub async fn clocks_and_log(pool: &PgPool, ticket: TicketId) -> Result<(Vec<TimerRow>, Vec<SlaLogRow>), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let timers = sqlx::query_as(&format!(
        "SELECT {TIMER_COLUMNS} FROM sla_timer WHERE ticket_id = $1 ORDER BY metric"
    ))
    .bind(ticket)
    .fetch_all(&mut *tx)
    .await?;
    let log = sqlx::query_as("SELECT metric, kind, detail, at FROM sla_log WHERE ticket_id = $1 ORDER BY id")
        .bind(ticket)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((timers, log))
}

/// First responses since midnight UTC of `now`'s day: (within target, missed).
pub async fn first_response_today(pool: &PgPool, now: DateTime<Utc>) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'fulfilled'), count(*) FILTER (WHERE status = 'breached') \
         FROM sla_timer WHERE metric = 'first_response' \
           AND (finished_at >= date_trunc('day', $1::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' \
                OR breached_at >= date_trunc('day', $1::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')",
    )
    .bind(now)
    .fetch_one(pool)
    .await
}
