//! What a service-level clock's jobs do: the 80% warning moves the ticket ahead; the breach
//! escalates it (up a tier when the policy says so) and tells the supervisor.

use contracts::routing::SlaTimerRef;
use platform::Tx;

use super::Router;
use crate::core::sla::TimerJob;
use crate::events;
use crate::store::entries;
use crate::store::sla::{self, Mark, TimerRow};

impl Router {
    /// The clock a service-level event is about, with the ticket's holder and their supervisor.
    async fn timer_ref(&self, tx: &mut Tx, t: &TimerRow) -> anyhow::Result<SlaTimerRef> {
        let entry = entries::entry(&mut **tx, t.ticket_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("clock without a queue entry"))?;
        self.inner.catalog.fresh().await?;
        Ok(events::timer_ref(
            t,
            &entry,
            self.supervisor_of(entry.agent_id),
            self.now(),
        ))
    }

    /// 80% of a clock's time has passed: warned (once), the ticket moves ahead in its queue.
    pub async fn sla_warning(&self, tx: &mut Tx, job: &TimerJob) -> anyhow::Result<()> {
        let Some(t) = sla::current(tx, job.ticket_id, &job.metric, job.generation).await? else {
            return Ok(());
        };
        if t.warned_at.is_some() {
            return Ok(());
        }
        let now = self.now();
        sla::mark(tx, &t, Mark::Warned, now, serde_json::json!({"due_at": t.due_at})).await?;
        // The raise bumps the entry's version: the warning's number.
        let version = self.raise(tx, t.ticket_id).await?;
        let timer = self.timer_ref(tx, &t).await?;
        let event = events::sla_warning(timer, now);
        match version {
            Some(v) => self.inner.outbox.stage_sequenced(tx, event, v).await?,
            None => self.inner.outbox.stage(tx, event).await?,
        };
        tracing::info!(ticket_id = %t.ticket_id, metric = %t.metric, "service-level warning");
        Ok(())
    }

    /// A clock's target was missed: breached, escalated (up a tier when the policy says so),
    /// the supervisor told.
    pub async fn sla_breach(&self, tx: &mut Tx, job: &TimerJob) -> anyhow::Result<()> {
        let Some(t) = sla::current(tx, job.ticket_id, &job.metric, job.generation).await? else {
            return Ok(());
        };
        let now = self.now();
        let timer = self.timer_ref(tx, &t).await?;
        let escalated = self
            .escalate(tx, t.ticket_id, "sla_breach", t.escalate, timer.supervisor_id)
            .await?
            .map(|(_, tier)| tier);
        let escalated_to_tier = escalated.filter(|_| t.escalate);
        sla::mark(
            tx,
            &t,
            Mark::Breached,
            now,
            serde_json::json!({"escalated_to_tier": escalated_to_tier}),
        )
        .await?;
        // Numbered after the escalation it caused.
        let event = events::sla_breached(timer, escalated_to_tier, now);
        match entries::bump_version(tx, t.ticket_id).await? {
            Some(v) => self.inner.outbox.stage_sequenced(tx, event, v).await?,
            None => self.inner.outbox.stage(tx, event).await?,
        };
        tracing::warn!(ticket_id = %t.ticket_id, metric = %t.metric, "service level breached");
        Ok(())
    }
}
