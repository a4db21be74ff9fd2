//! Durable scheduled jobs in Postgres: SLA timers, reminders, scheduled sends.
//!
//! A job is a row with a kind, a JSON payload and a due time. Runners on every replica claim due
//! jobs with `FOR UPDATE SKIP LOCKED` under a lease; the handler's effect and the job's
//! completion commit in one transaction, so a job takes effect once even across replicas and
//! crashes. A failed job is retried with exponential back-off until `max_attempts`, then marked
//! `failed` and kept for an operator.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde::Serialize;
use sqlx::{PgExecutor, PgPool};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::bus::outbox::Outbox;
use crate::clock::Clock;
use crate::config::JobSettings;
use crate::db::Tx;
use crate::metrics::Metrics;

/// A claimed job, as its handler sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Job {
    pub id: Uuid,
    pub kind: String,
    pub dedupe_key: Option<String>,
    pub payload: serde_json::Value,
    pub due_at: DateTime<Utc>,
    pub attempts: i32,
    pub max_attempts: i32,
    pub traceparent: Option<String>,
}

/// Runs jobs of one kind inside the transaction that marks them done.
pub trait JobHandler: Send + Sync + 'static {
    fn run<'a>(&'a self, tx: &'a mut Tx, job: &'a Job) -> BoxFuture<'a, anyhow::Result<()>>;
}

/// A job to schedule.
pub struct NewJob<'a, P: Serialize> {
    pub kind: &'a str,
    /// At most one pending-or-finished job per (kind, key); scheduling it again is a no-op.
    pub dedupe_key: Option<&'a str>,
    pub payload: &'a P,
    pub due_at: DateTime<Utc>,
    /// Overrides `jobs.max_attempts`.
    pub max_attempts: Option<i32>,
}

/// Schedules and runs jobs. Cheap to clone.
#[derive(Clone)]
pub struct Jobs {
    pool: PgPool,
    outbox: Outbox,
    settings: JobSettings,
    metrics: Arc<Metrics>,
    clock: Clock,
    handlers: Arc<HashMap<String, Arc<dyn JobHandler>>>,
}

impl Jobs {
    /// A runner whose "due" and leases follow `clock`.
    pub fn new(pool: PgPool, settings: JobSettings, metrics: Arc<Metrics>, outbox: Outbox, clock: Clock) -> Self {
        Self {
            pool,
            outbox,
            settings,
            metrics,
            clock,
            handlers: Arc::new(HashMap::new()),
        }
    }

    /// Attempts a job gets unless it says otherwise (`jobs.max_attempts`), for callers writing
    /// `scheduled_job` rows in their own statements.
    pub fn max_attempts(&self) -> i32 {
        self.settings.max_attempts
    }

    /// Registers the handler for `kind` (before the runner starts).
    pub fn with_handler(mut self, kind: &str, handler: impl JobHandler) -> Self {
        let mut map: HashMap<String, Arc<dyn JobHandler>> = (*self.handlers).clone();
        map.insert(kind.to_owned(), Arc::new(handler));
        self.handlers = Arc::new(map);
        self
    }

    /// Schedules a job, in the caller's transaction or on the pool. Returns its id, or `None`
    /// when a job with the same kind and dedupe key exists already.
    pub async fn schedule<'e, P: Serialize>(
        &self,
        executor: impl PgExecutor<'e>,
        job: NewJob<'_, P>,
    ) -> Result<Option<Uuid>, sqlx::Error> {
        let payload = serde_json::to_value(job.payload).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        let id: Option<Uuid> = sqlx::query_scalar(
            "INSERT INTO scheduled_job (id, kind, dedupe_key, payload, due_at, max_attempts, traceparent) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (kind, dedupe_key) DO NOTHING RETURNING id",
        )
        .bind(Uuid::now_v7())
        .bind(job.kind)
        .bind(job.dedupe_key)
        .bind(payload)
        .bind(job.due_at)
        .bind(job.max_attempts.unwrap_or(self.settings.max_attempts))
        .bind(crate::telemetry::current_traceparent())
        .fetch_optional(executor)
        .await?;
        Ok(id)
    }

    /// Schedules several jobs in one statement; jobs whose (kind, dedupe key) exists already are
    /// skipped. Returns how many were scheduled.
    pub async fn schedule_batch<'e, P: Serialize>(
        &self,
        executor: impl PgExecutor<'e>,
        jobs: &[NewJob<'_, P>],
    ) -> Result<u64, sqlx::Error> {
        if jobs.is_empty() {
            return Ok(0);
        }
        let mut ids = Vec::with_capacity(jobs.len());
        let mut kinds = Vec::with_capacity(jobs.len());
        let mut keys = Vec::with_capacity(jobs.len());
        let mut payloads = Vec::with_capacity(jobs.len());
        let mut due = Vec::with_capacity(jobs.len());
        let mut max = Vec::with_capacity(jobs.len());
        for job in jobs {
            ids.push(Uuid::now_v7());
            kinds.push(job.kind.to_owned());
            keys.push(job.dedupe_key.map(str::to_owned));
            payloads.push(serde_json::to_value(job.payload).map_err(|e| sqlx::Error::Encode(Box::new(e)))?);
            due.push(job.due_at);
            max.push(job.max_attempts.unwrap_or(self.settings.max_attempts));
        }
        let n = sqlx::query(
            "INSERT INTO scheduled_job (id, kind, dedupe_key, payload, due_at, max_attempts, traceparent) \
             SELECT id, kind, key, payload, due, max, $7 \
             FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::timestamptz[], $6::int[]) \
                  AS j(id, kind, key, payload, due, max) \
             ON CONFLICT (kind, dedupe_key) DO NOTHING",
        )
        .bind(&ids)
        .bind(&kinds)
        .bind(&keys)
        .bind(&payloads)
        .bind(&due)
        .bind(&max)
        .bind(crate::telemetry::current_traceparent())
        .execute(executor)
        .await?
        .rows_affected();
        Ok(n)
    }

    /// Cancels a pending job by kind and dedupe key; true if one was pending.
    pub async fn cancel<'e>(
        &self,
        executor: impl PgExecutor<'e>,
        kind: &str,
        dedupe_key: &str,
    ) -> Result<bool, sqlx::Error> {
        let n = sqlx::query(
            "UPDATE scheduled_job SET status = 'cancelled', updated_at = now() \
             WHERE kind = $1 AND dedupe_key = $2 AND status = 'pending'",
        )
        .bind(kind)
        .bind(dedupe_key)
        .execute(executor)
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    /// Claims and runs the jobs due now (one batch); returns how many ran.
    pub async fn run_due(&self) -> anyhow::Result<usize> {
        let lease = i64::try_from(self.settings.lease_secs).unwrap_or(60);
        let claimed: Vec<Job> = sqlx::query_as(
            "UPDATE scheduled_job SET locked_until = $3 + make_interval(secs => $2), \
                    attempts = attempts + 1, updated_at = now() \
             WHERE id IN (SELECT id FROM scheduled_job \
                          WHERE status = 'pending' AND due_at <= $3 \
                            AND (locked_until IS NULL OR locked_until < $3) \
                          ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED) \
             RETURNING id, kind, dedupe_key, payload, due_at, attempts, max_attempts, traceparent",
        )
        .bind(self.settings.batch_size)
        .bind(lease as f64)
        .bind(self.clock.now())
        .fetch_all(&self.pool)
        .await?;
        let n = claimed.len();
        for job in claimed {
            let span = tracing::info_span!("job.run", otel.name = %format!("job {}", job.kind), job.id = %job.id, job.kind = %job.kind, attempt = job.attempts);
            if let Some(tp) = job.traceparent.clone() {
                crate::telemetry::set_remote_parent(&span, |k| (k == "traceparent").then_some(tp.as_str()));
            }
            self.run_one(job).instrument(span).await?;
        }
        Ok(n)
    }

    async fn run_one(&self, job: Job) -> anyhow::Result<()> {
        let Some(handler) = self.handlers.get(&job.kind).cloned() else {
            self.record_failure(&job, "no handler registered for this kind").await?;
            return Ok(());
        };
        let mut tx = self.pool.begin().await?;
        // The row lock guards against a cancel racing the run; a cancelled job is skipped.
        let still_pending: Option<Uuid> =
            sqlx::query_scalar("SELECT id FROM scheduled_job WHERE id = $1 AND status = 'pending' FOR UPDATE")
                .bind(job.id)
                .fetch_optional(&mut *tx)
                .await?;
        if still_pending.is_none() {
            return Ok(());
        }
        match handler.run(&mut tx, &job).await {
            Ok(()) => {
                sqlx::query(
                    "UPDATE scheduled_job SET status = 'done', locked_until = NULL, updated_at = now() WHERE id = $1",
                )
                .bind(job.id)
                .execute(&mut *tx)
                .await?;
                self.outbox.commit(tx).await?;
                self.metrics.jobs_run.with_label_values(&[&job.kind, "done"]).inc();
            }
            Err(e) => {
                drop(tx);
                self.record_failure(&job, &format!("{e:#}")).await?;
            }
        }
        Ok(())
    }

    async fn record_failure(&self, job: &Job, error: &str) -> anyhow::Result<()> {
        let last = job.attempts >= job.max_attempts;
        let backoff = self.backoff(job.attempts);
        sqlx::query(
            "UPDATE scheduled_job SET status = CASE WHEN $2 THEN 'failed' ELSE 'pending' END, \
                    due_at = $5 + make_interval(secs => $3), locked_until = NULL, \
                    last_error = $4, updated_at = now() WHERE id = $1",
        )
        .bind(job.id)
        .bind(last)
        .bind(backoff.as_secs_f64())
        .bind(error)
        .bind(self.clock.now())
        .execute(&self.pool)
        .await?;
        let outcome = if last { "failed" } else { "retry" };
        tracing::warn!(job.id = %job.id, job.kind = %job.kind, attempt = job.attempts, outcome, error, "job failed");
        self.metrics.jobs_run.with_label_values(&[&job.kind, outcome]).inc();
        Ok(())
    }

    /// Exponential back-off with full jitter, capped.
    fn backoff(&self, attempts: i32) -> Duration {
        let exp = u32::try_from(attempts.clamp(1, 30) - 1).unwrap_or(0);
        let max = self
            .settings
            .backoff_base_ms
            .saturating_mul(2u64.saturating_pow(exp))
            .min(self.settings.backoff_max_ms);
        let jittered = rand::random_range(max / 2..=max.max(1));
        Duration::from_millis(jittered)
    }

    /// Runs due jobs until cancelled; the job in progress at cancellation is finished.
    pub async fn run(self, cancel: CancellationToken) {
        let poll = Duration::from_millis(self.settings.poll_interval_ms);
        loop {
            match self.run_due().await {
                Ok(n) if n as i64 >= self.settings.batch_size => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "job runner failed; will retry"),
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = cancel.cancelled() => return,
            }
        }
    }
}
