//! Service-level clocks in Postgres: applied when a ticket starts waiting, paused while it
//! waits on the customer, stopped by the matching intake event. The 80% warning and the breach
//! are durable jobs carrying the clock's generation, so a paused, restarted or stopped clock's
//! old jobs do nothing, and each fires once across replicas and restarts.

use chrono::{DateTime, Utc};
use platform::Tx;
use platform::jobs::{Jobs, NewJob};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use sqlx::types::Json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::sla::{self, BusinessHours, Facts, Policy, Target};
use crate::store::QueueEntryRow;

pub const WARN_JOB: &str = "sla-warn";
pub const BREACH_JOB: &str = "sla-breach";

/// The payload of a warning or breach job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimerJob {
    pub ticket_id: Uuid,
    pub metric: String,
    pub generation: i32,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TimerRow {
    pub ticket_id: Uuid,
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

/// The facts policies match on, from a queue entry.
pub fn facts(e: &QueueEntryRow) -> Facts {
    Facts {
        channel: e.channel.clone(),
        category: e.category.clone(),
        segments: e.segments.clone(),
        priority: e.priority.clone(),
        tier: e.tier.clone(),
    }
}

/// A clock that started: metric, warning time, due time, generation.
type Started = (String, Option<DateTime<Utc>>, Option<DateTime<Utc>>, i32);

/// One clock to (re)start.
struct Run {
    metric: String,
    policy: String,
    target_secs: i64,
    used_secs: f64,
    warn_at: Option<DateTime<Utc>>,
    due_at: DateTime<Utc>,
    hours: Option<BusinessHours>,
    escalate: bool,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct SlaLogRow {
    pub metric: String,
    /// `applied`, `paused`, `resumed`, `warned`, `breached`, `fulfilled`, `cancelled`.
    pub kind: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub at: DateTime<Utc>,
}

/// Starts, pauses, resumes and stops clocks. Cheap to clone.
#[derive(Clone)]
pub struct Sla {
    jobs: Jobs,
    warn_ratio: f64,
}

impl Sla {
    pub fn new(jobs: Jobs, warn_ratio: f64) -> Self {
        Self { jobs, warn_ratio }
    }

    fn run_for(&self, t: &Target, now: DateTime<Utc>) -> Run {
        let secs = t.secs as f64;
        let hours = t.hours.as_ref();
        Run {
            metric: t.metric.to_owned(),
            policy: t.policy.clone(),
            target_secs: t.secs,
            used_secs: 0.0,
            warn_at: Some(sla::add(now, secs * self.warn_ratio, hours)),
            due_at: sla::add(now, secs, hours),
            hours: t.hours.clone(),
            escalate: t.escalate,
        }
    }

    /// Starts the first-response and resolution clocks the policies give a ticket that now
    /// waits for an agent (once per ticket).
    pub async fn apply(
        &self,
        tx: &mut Tx,
        entry: &QueueEntryRow,
        policies: &[Policy],
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        self.start_for(tx, entry, policies, now, false).await
    }

    /// After an agent's public reply or progress update: the next-update clock starts again.
    pub async fn restart_next_update(
        &self,
        tx: &mut Tx,
        entry: &QueueEntryRow,
        policies: &[Policy],
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        self.start_for(tx, entry, policies, now, true).await
    }

    /// The next-update clock (`next_update`) or the others, from the policies' targets.
    async fn start_for(
        &self,
        tx: &mut Tx,
        entry: &QueueEntryRow,
        policies: &[Policy],
        now: DateTime<Utc>,
        next_update: bool,
    ) -> Result<(), sqlx::Error> {
        let runs: Vec<Run> = sla::targets(policies, &facts(entry))
            .iter()
            .filter(|t| (t.metric == "next_update") == next_update)
            .map(|t| self.run_for(t, now))
            .collect();
        self.start(tx, entry.ticket_id, &runs, next_update, "applied", now)
            .await
    }

    async fn start(
        &self,
        tx: &mut Tx,
        ticket: Uuid,
        runs: &[Run],
        replace: bool,
        kind: &str,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        if runs.is_empty() {
            return Ok(());
        }
        let hours: Vec<Option<serde_json::Value>> = runs
            .iter()
            .map(|r| r.hours.as_ref().and_then(|h| serde_json::to_value(h).ok()))
            .collect();
        // The clocks, their log entries and their warning and breach jobs in one statement. The
        // jobs carry the generation the clock got (a restarted clock's old jobs do nothing); their
        // payload and dedupe key are those `schedule` writes (a `TimerJob`, "ticket:metric:gen").
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
        .bind(replace)
        .bind(kind)
        .bind(&warn_ids)
        .bind(&breach_ids)
        .bind(WARN_JOB)
        .bind(BREACH_JOB)
        .bind(self.jobs.max_attempts())
        .bind(platform::telemetry::current_traceparent())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn schedule(&self, tx: &mut Tx, ticket: Uuid, timers: &[Started]) -> Result<(), sqlx::Error> {
        let payloads: Vec<(TimerJob, String)> = timers
            .iter()
            .map(|(metric, _, _, generation)| {
                let key = format!("{ticket}:{metric}:{generation}");
                (
                    TimerJob {
                        ticket_id: ticket,
                        metric: metric.clone(),
                        generation: *generation,
                    },
                    key,
                )
            })
            .collect();
        let mut jobs = Vec::with_capacity(timers.len() * 2);
        for ((_, warn_at, due_at, _), (payload, key)) in timers.iter().zip(&payloads) {
            if let Some(at) = warn_at {
                jobs.push(NewJob {
                    kind: WARN_JOB,
                    dedupe_key: Some(key),
                    payload,
                    due_at: *at,
                    max_attempts: None,
                });
            }
            if let Some(at) = due_at {
                jobs.push(NewJob {
                    kind: BREACH_JOB,
                    dedupe_key: Some(key),
                    payload,
                    due_at: *at,
                    max_attempts: None,
                });
            }
        }
        self.jobs.schedule_batch(&mut **tx, &jobs).await?;
        Ok(())
    }

    /// The matching event came: the clock stops (a breached one stays counted as breached).
    pub async fn fulfil(
        &self,
        tx: &mut Tx,
        ticket: Uuid,
        metric: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
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

    /// Stops every open clock of a ticket (closed, cancelled, resolved).
    pub async fn stop_all(
        &self,
        tx: &mut Tx,
        ticket: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
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

    async fn locked(&self, tx: &mut Tx, ticket: Uuid, status: &str) -> Result<Vec<TimerRow>, sqlx::Error> {
        sqlx::query_as(&format!(
            "SELECT {TIMER_COLUMNS} FROM sla_timer WHERE ticket_id = $1 AND status = $2 ORDER BY metric FOR UPDATE"
        ))
        .bind(ticket)
        .bind(status)
        .fetch_all(&mut **tx)
        .await
    }

    /// The ticket waits on the customer: running clocks stand still.
    pub async fn pause(&self, tx: &mut Tx, ticket: Uuid, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
        for t in self.locked(tx, ticket, "running").await? {
            let hours = t.business_hours.as_ref().map(|h| &h.0);
            let used = t.used_secs + t.run_started_at.map_or(0.0, |s| sla::elapsed(s, now, hours));
            sqlx::query(
                "WITH t AS (UPDATE sla_timer SET status = 'paused', used_secs = $3, run_started_at = NULL, \
                                generation = generation + 1 WHERE ticket_id = $1 AND metric = $2 RETURNING metric) \
                 INSERT INTO sla_log (ticket_id, metric, kind, detail, at) \
                 SELECT $1, metric, 'paused', jsonb_build_object('used_secs', round($3::numeric, 1)), $4 FROM t",
            )
            .bind(ticket)
            .bind(&t.metric)
            .bind(used)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// The customer answered: paused clocks run again for the time they had left.
    pub async fn resume(&self, tx: &mut Tx, ticket: Uuid, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
        let mut started = Vec::new();
        for t in self.locked(tx, ticket, "paused").await? {
            let hours = t.business_hours.as_ref().map(|h| &h.0);
            let target = t.target_secs as f64;
            let due = sla::add(now, (target - t.used_secs).max(0.0), hours);
            let warn = t
                .warned_at
                .is_none()
                .then(|| sla::add(now, (target * self.warn_ratio - t.used_secs).max(0.0), hours));
            let generation: i32 = sqlx::query_scalar(
                "WITH t AS (UPDATE sla_timer SET status = 'running', run_started_at = $3, due_at = $4, warn_at = $5, \
                                generation = generation + 1 WHERE ticket_id = $1 AND metric = $2 \
                            RETURNING metric, generation), \
                 l AS (INSERT INTO sla_log (ticket_id, metric, kind, detail, at) \
                       SELECT $1, metric, 'resumed', jsonb_build_object('due_at', $4::timestamptz), $3 FROM t) \
                 SELECT generation FROM t",
            )
            .bind(ticket)
            .bind(&t.metric)
            .bind(now)
            .bind(due)
            .bind(warn)
            .fetch_one(&mut **tx)
            .await?;
            started.push((t.metric, warn, Some(due), generation));
        }
        self.schedule(tx, ticket, &started).await
    }

    /// The clock a job belongs to, locked, when the job is still current.
    pub async fn current(&self, tx: &mut Tx, job: &TimerJob) -> Result<Option<TimerRow>, sqlx::Error> {
        sqlx::query_as(&format!(
            "SELECT {TIMER_COLUMNS} FROM sla_timer WHERE ticket_id = $1 AND metric = $2 AND generation = $3 \
               AND status = 'running' FOR UPDATE"
        ))
        .bind(job.ticket_id)
        .bind(&job.metric)
        .bind(job.generation)
        .fetch_optional(&mut **tx)
        .await
    }

    pub async fn mark(
        &self,
        tx: &mut Tx,
        t: &TimerRow,
        kind: &str,
        now: DateTime<Utc>,
        detail: serde_json::Value,
    ) -> Result<(), sqlx::Error> {
        let sql = if kind == "breached" {
            "UPDATE sla_timer SET status = 'breached', breached_at = $3 WHERE ticket_id = $1 AND metric = $2"
        } else {
            "UPDATE sla_timer SET warned_at = $3 WHERE ticket_id = $1 AND metric = $2"
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
            .bind(kind)
            .bind(detail)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

/// A ticket's clocks, for frontends.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct TimerView {
    pub metric: String,
    pub policy: String,
    pub target_secs: i64,
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub warned_at: Option<DateTime<Utc>>,
    pub breached_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A ticket's clocks and their log, read from one snapshot so that the two agree (a clock
/// marked breached in between would otherwise show a "breached" log entry beside a running
/// clock).
pub async fn clocks_and_log(pool: &PgPool, ticket: Uuid) -> Result<(Vec<TimerView>, Vec<SlaLogRow>), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let timers = sqlx::query_as(
        "SELECT metric, policy, target_secs, status, started_at, due_at, warned_at, breached_at, finished_at \
         FROM sla_timer WHERE ticket_id = $1 ORDER BY metric",
    )
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

/// First responses since midnight UTC: (within target, missed).
pub async fn first_response_today(pool: &PgPool) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'fulfilled'), count(*) FILTER (WHERE status = 'breached') \
         FROM sla_timer WHERE metric = 'first_response' \
           AND (finished_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' \
                OR breached_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')",
    )
    .fetch_one(pool)
    .await
}
