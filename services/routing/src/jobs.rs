//! The jobs behind service-level clocks: the 80% warning and the breach.

use chrono::Utc;
use contracts::routing::{SlaBreachedV1, SlaTimerRef, SlaWarningV1};
use futures_util::future::BoxFuture;
use platform::Tx;
use platform::bus::outbox::Outbox;
use platform::jobs::{Job, JobHandler};

use crate::router::Router;
use crate::sla::{TimerJob, TimerRow};
use crate::store;

async fn timer_ref(router: &Router, tx: &mut Tx, t: &TimerRow) -> anyhow::Result<SlaTimerRef> {
    let entry = store::entry(&mut **tx, t.ticket_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("clock without a queue entry"))?;
    router.catalog().fresh().await?;
    Ok(SlaTimerRef {
        ticket_id: t.ticket_id,
        customer_id: entry.customer_id,
        metric: t.metric.clone(),
        policy: t.policy.clone(),
        target_secs: t.target_secs,
        due_at: t.due_at.unwrap_or_else(Utc::now),
        agent_id: entry.agent_id,
        supervisor_id: router.supervisor_of(entry.agent_id),
    })
}

/// 80% of the time has passed: warned, the ticket moves ahead in its queue.
pub struct SlaWarn {
    pub router: Router,
    pub outbox: Outbox,
}

impl JobHandler for SlaWarn {
    fn run<'a>(&'a self, tx: &'a mut Tx, job: &'a Job) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let p: TimerJob = serde_json::from_value(job.payload.clone())?;
            let Some(t) = self.router.sla().current(tx, &p).await? else {
                return Ok(());
            };
            if t.warned_at.is_some() {
                return Ok(());
            }
            let now = Utc::now();
            self.router
                .sla()
                .mark(tx, &t, "warned", now, serde_json::json!({"due_at": t.due_at}))
                .await?;
            self.router.raise(tx, t.ticket_id).await?;
            let timer = timer_ref(&self.router, tx, &t).await?;
            self.outbox.stage(tx, SlaWarningV1 { timer, warned_at: now }).await?;
            tracing::info!(ticket_id = %t.ticket_id, metric = %t.metric, "service-level warning");
            Ok(())
        })
    }
}

/// The target was missed: breached, escalated (up a tier when the policy says so), the
/// supervisor told.
pub struct SlaBreach {
    pub router: Router,
    pub outbox: Outbox,
}

impl JobHandler for SlaBreach {
    fn run<'a>(&'a self, tx: &'a mut Tx, job: &'a Job) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let p: TimerJob = serde_json::from_value(job.payload.clone())?;
            let Some(t) = self.router.sla().current(tx, &p).await? else {
                return Ok(());
            };
            let now = Utc::now();
            let timer = timer_ref(&self.router, tx, &t).await?;
            let escalated = self
                .router
                .escalate(tx, t.ticket_id, "sla_breach", t.escalate, timer.supervisor_id)
                .await?
                .map(|(_, tier)| tier);
            let escalated_to_tier = escalated.filter(|_| t.escalate);
            self.router
                .sla()
                .mark(
                    tx,
                    &t,
                    "breached",
                    now,
                    serde_json::json!({"escalated_to_tier": escalated_to_tier}),
                )
                .await?;
            self.outbox
                .stage(
                    tx,
                    SlaBreachedV1 {
                        timer,
                        escalated_to_tier,
                        breached_at: now,
                    },
                )
                .await?;
            tracing::warn!(ticket_id = %t.ticket_id, metric = %t.metric, "service level breached");
            Ok(())
        })
    }
}
