//! Service-level clocks in Postgres: applied when a ticket starts waiting, paused while it
//! waits on the customer, stopped by the matching intake event. The 80% warning and the breach
//! are durable jobs carrying the clock's generation, so a paused, restarted or stopped clock's
//! old jobs do nothing, and each fires once across replicas and restarts.

use chrono::{DateTime, Utc};
use contracts::TicketId;
use platform::Tx;
use platform::jobs::{Jobs, NewJob};
use serde::{Deserialize, Serialize};

use crate::domain::sla::{self, Facts, Policy, Target};
use crate::store::entries::QueueEntryRow;
use crate::store::sla::{self as rows, ClockJobs, Restart, Run};

pub const WARN_JOB: &str = "sla-warn";
pub const BREACH_JOB: &str = "sla-breach";

/// The payload of a warning or breach job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimerJob {
    pub ticket_id: TicketId,
    pub metric: String,
    pub generation: i32,
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

/// Which of a ticket's clocks to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clocks {
    /// The first-response and resolution clocks, once per ticket: it now waits for an agent.
    Waiting,
    /// The next-update clock, again: an agent replied publicly or gave a progress update.
    NextUpdate,
}

/// A clock that started: metric, warning time, due time, generation.
type Started = (String, Option<DateTime<Utc>>, Option<DateTime<Utc>>, i32);

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

    /// Starts `clocks` for an entry from the policies' targets.
    pub async fn start(
        &self,
        tx: &mut Tx,
        entry: &QueueEntryRow,
        policies: &[Policy],
        now: DateTime<Utc>,
        clocks: Clocks,
    ) -> Result<(), sqlx::Error> {
        let restart = match clocks {
            Clocks::Waiting => Restart::No,
            Clocks::NextUpdate => Restart::Yes,
        };
        let next_update = restart == Restart::Yes;
        let runs: Vec<Run> = sla::targets(policies, &facts(entry))
            .iter()
            .filter(|t| (t.metric == "next_update") == next_update)
            .map(|t| self.run_for(t, now))
            .collect();
        if runs.is_empty() {
            return Ok(());
        }
        let jobs = ClockJobs {
            warn_kind: WARN_JOB,
            breach_kind: BREACH_JOB,
            max_attempts: self.jobs.max_attempts(),
            traceparent: platform::telemetry::current_traceparent(),
        };
        rows::start(tx, entry.ticket_id, &runs, restart, "applied", now, &jobs).await
    }

    async fn schedule(&self, tx: &mut Tx, ticket: TicketId, timers: &[Started]) -> Result<(), sqlx::Error> {
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
        ticket: TicketId,
        metric: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        rows::fulfil(tx, ticket, metric, now).await
    }

    /// Stops every open clock of a ticket (closed, cancelled, resolved).
    pub async fn stop_all(
        &self,
        tx: &mut Tx,
        ticket: TicketId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        rows::stop_all(tx, ticket, reason, now).await
    }

    /// The ticket waits on the customer: running clocks stand still.
    pub async fn pause(&self, tx: &mut Tx, ticket: TicketId, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
        for t in rows::locked(tx, ticket, "running").await? {
            let hours = t.business_hours.as_ref().map(|h| &h.0);
            let used = t.used_secs + t.run_started_at.map_or(0.0, |s| sla::elapsed(s, now, hours));
            rows::pause(tx, ticket, &t.metric, used, now).await?;
        }
        Ok(())
    }

    /// The customer answered: paused clocks run again for the time they had left.
    pub async fn resume(&self, tx: &mut Tx, ticket: TicketId, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
        let mut started = Vec::new();
        for t in rows::locked(tx, ticket, "paused").await? {
            let hours = t.business_hours.as_ref().map(|h| &h.0);
            let target = t.target_secs as f64;
            let due = sla::add(now, (target - t.used_secs).max(0.0), hours);
            let warn = t
                .warned_at
                .is_none()
                .then(|| sla::add(now, (target * self.warn_ratio - t.used_secs).max(0.0), hours));
            let generation = rows::resume(tx, ticket, &t.metric, now, due, warn).await?;
            started.push((t.metric, warn, Some(due), generation));
        }
        self.schedule(tx, ticket, &started).await
    }
}
