//! Moving tickets on: transfers to an agent or a queue, escalations (by an agent or a breach)
//! and the raise an SLA warning gives.

use contracts::vocabulary::Priority;
use contracts::{AgentId, TicketId};
use platform::{ApiError, Tx};
use uuid::Uuid;

use super::{Router, live_ticket, standing};
use crate::adapters::live::{Room, TakeOutcome};
use crate::domain::entry::EntryStatus;
use crate::domain::matching::{tier_rank, tier_up};
use crate::domain::queue;
use crate::events::{self, Escalation, Transfer};
use crate::store::assignments::{self, Open};
use crate::store::entries::{self, Move, QueueEntryRow, Requirement};

/// Who asks for a transfer or an escalation.
#[derive(Debug, Clone, Copy)]
pub struct Actor {
    pub id: Uuid,
    /// A supervisor or an admin (may move tickets they do not hold).
    pub manager: bool,
}

impl Actor {
    fn holds(&self, entry: &QueueEntryRow) -> bool {
        entry.agent_id == Some(AgentId::from(self.id))
    }
}

/// The states from which a ticket may be transferred.
const TRANSFERABLE: [EntryStatus; 3] = [EntryStatus::Waiting, EntryStatus::Offered, EntryStatus::Assigned];

impl Router {
    /// Moves a ticket to another agent (who must be online with room) or back to a queue.
    pub async fn transfer(
        &self,
        ticket: TicketId,
        actor: Actor,
        to_agent: Option<AgentId>,
        to_queue: Option<&str>,
        reason: Option<String>,
    ) -> Result<QueueEntryRow, ApiError> {
        let now = self.now();
        let mut tx = self.inner.pool.begin().await?;
        let before = entries::entry_for_update(&mut tx, ticket)
            .await?
            .ok_or_else(|| ApiError::not_found("queue entry"))?;
        if !actor.manager && !actor.holds(&before) {
            return Err(ApiError::forbidden(
                "only the agent who has the ticket or a supervisor may transfer it",
            ));
        }
        if !matches!(
            before.status,
            EntryStatus::Waiting | EntryStatus::Offered | EntryStatus::Assigned
        ) {
            return Err(ApiError::conflict(
                "not_transferable",
                format!("the ticket is {}", before.status),
            ));
        }
        let detail = serde_json::json!({"from_agent_id": before.agent_id, "reason": reason, "actor_id": actor.id});
        let entry = if let Some(to) = to_agent {
            self.inner.catalog.fresh().await?;
            if self.inner.catalog.agent(to).is_none() {
                return Err(ApiError::field("agent_id", "no active agent with this id"));
            }
            let mut m = Move::new(ticket, &TRANSFERABLE, EntryStatus::Assigned, "transferred", now);
            m.agent = Some(to);
            m.detail = detail;
            // Two events: `assigned`, then `transferred` (the new version).
            m.events = 2;
            let entry = entries::apply(&mut tx, &m)
                .await?
                .ok_or_else(|| ApiError::conflict("not_transferable", "the ticket changed meanwhile"))?;
            assignments::open(&mut tx, ticket, to, &entry.channel, "transfer", Open::Replacing, now).await?;
            let (outcome, _) = self
                .inner
                .live
                .assign_to(
                    ticket,
                    &before.queue,
                    &before.channel,
                    to,
                    Room::Required,
                    before.agent_id,
                    now.timestamp_millis(),
                )
                .await?;
            match outcome {
                TakeOutcome::Done => {}
                TakeOutcome::NotOnline => {
                    return Err(ApiError::conflict("agent_not_online", "the agent is not online"));
                }
                TakeOutcome::Full => {
                    return Err(ApiError::conflict(
                        "at_capacity",
                        "the agent has no room on this channel",
                    ));
                }
                TakeOutcome::Gone => {
                    return Err(ApiError::conflict("not_transferable", "the ticket changed meanwhile"));
                }
                TakeOutcome::Rebuilding => return Err(super::Refusal::Rebuilding.into()),
            }
            self.inner
                .outbox
                .stage_sequenced(
                    &mut tx,
                    events::assigned(&entry, to, "transfer", now),
                    entry.version - 1,
                )
                .await?;
            entry
        } else {
            let name = to_queue.ok_or_else(|| ApiError::field("agent_id", "give agent_id or queue"))?;
            self.inner.catalog.fresh().await?;
            let def = self
                .inner
                .catalog
                .queues()
                .into_iter()
                .find(|q| q.name == name)
                .ok_or_else(|| ApiError::field("queue", "no active queue with this name"))?;
            let tier = if tier_rank(&def.tier) > tier_rank(&before.tier) {
                def.tier.clone()
            } else {
                before.tier.clone()
            };
            let mut m = Move::new(ticket, &TRANSFERABLE, EntryStatus::Waiting, "transferred", now);
            m.queue = Some(name);
            m.detail = detail;
            entries::apply(&mut tx, &m)
                .await?
                .ok_or_else(|| ApiError::conflict("not_transferable", "the ticket changed meanwhile"))?;
            let requirement = Requirement {
                tier: &tier,
                priority: &before.priority,
                score: before.score,
            };
            let entry = entries::set_requirement(
                &mut tx,
                ticket,
                requirement,
                "requirement",
                serde_json::json!({"tier": tier, "skill": def.skill}),
                now,
            )
            .await?
            .ok_or_else(|| ApiError::not_found("queue entry"))?;
            entries::set_skill(&mut tx, ticket, def.skill.as_deref()).await?;
            assignments::release(&mut tx, ticket, now).await?;
            self.inner
                .live
                .release(ticket, &before.queue, &before.channel, now.timestamp_millis())
                .await?;
            let mut live = live_ticket(&entry);
            live.skill = def.skill.clone().or(live.skill);
            self.inner.live.enqueue(&live).await?;
            entry
        };
        let transfer = Transfer {
            from_agent_id: before.agent_id,
            to_agent_id: to_agent,
            reason,
            actor_id: actor.id,
        };
        self.inner
            .outbox
            .stage_sequenced(&mut tx, events::transferred(&entry, transfer, now), entry.version)
            .await?;
        self.inner.outbox.commit(tx).await?;
        self.wake();
        entries::entry(&self.inner.pool, ticket)
            .await?
            .ok_or_else(|| ApiError::not_found("queue entry"))
    }

    /// Raises a ticket's priority and, with `tier_up`, the tier it needs; a holder below the new
    /// tier gives it back to the queue. Returns the new tier.
    pub async fn escalate(
        &self,
        tx: &mut Tx,
        ticket: TicketId,
        reason: &str,
        raise_tier: bool,
        supervisor: Option<AgentId>,
    ) -> anyhow::Result<Option<(QueueEntryRow, String)>> {
        let Some(before) = entries::entry_for_update(tx, ticket).await? else {
            return Ok(None);
        };
        if matches!(before.status, EntryStatus::Closed | EntryStatus::Held) {
            return Ok(None);
        }
        let now = self.now();
        let new_tier = if raise_tier {
            tier_up(&before.tier).to_owned()
        } else {
            before.tier.clone()
        };
        let new_priority = match events::priority(&before.priority) {
            Priority::Low => Priority::Normal,
            Priority::Normal => Priority::High,
            Priority::High | Priority::Urgent => Priority::Urgent,
        };
        let score = queue::score(
            before.enqueued_at,
            new_priority,
            standing(&before, true),
            &self.inner.boosts,
        )
        .min(before.score);
        let requirement = Requirement {
            tier: &new_tier,
            priority: new_priority.as_str(),
            score,
        };
        let entry = entries::set_requirement(
            tx,
            ticket,
            requirement,
            "escalated",
            serde_json::json!({"reason": reason, "from_tier": before.tier, "to_tier": new_tier, "priority": new_priority.as_str()}),
            now,
        )
        .await?
        .ok_or_else(|| anyhow::anyhow!("queue entry vanished"))?;
        // The escalation's number: the entry's version after the last change it makes.
        let mut version = entry.version;
        let holder_tier = before
            .agent_id
            .and_then(|a| self.inner.catalog.agent(a))
            .map(|a| a.tier);
        match before.status {
            EntryStatus::Waiting => {
                self.inner
                    .live
                    .update_waiting(&entry.queue, ticket, score, &new_tier)
                    .await?;
            }
            EntryStatus::Offered | EntryStatus::Assigned
                if holder_tier
                    .as_deref()
                    .is_some_and(|t| tier_rank(t) < tier_rank(&new_tier)) =>
            {
                // Re-routed: the holder's tier is below what the ticket now needs.
                let agent = before.agent_id.unwrap_or_default();
                let mut m = Move::new(
                    ticket,
                    &[EntryStatus::Offered, EntryStatus::Assigned],
                    EntryStatus::Waiting,
                    "rerouted",
                    now,
                );
                m.detail = serde_json::json!({"from_agent_id": agent, "tier": new_tier});
                if let Some(rerouted) = entries::apply(tx, &m).await? {
                    version = rerouted.version;
                }
                assignments::release(tx, ticket, now).await?;
                self.inner
                    .live
                    .release(ticket, &before.queue, &before.channel, now.timestamp_millis())
                    .await?;
                let mut live = live_ticket(&entry);
                live.tried = vec![agent];
                self.inner.live.enqueue(&live).await?;
                self.wake();
            }
            _ => {}
        }
        let escalation = Escalation {
            from_tier: &before.tier,
            to_tier: &new_tier,
            priority: new_priority,
            reason,
            agent_id: before.agent_id,
            supervisor_id: supervisor,
        };
        self.inner
            .outbox
            .stage_sequenced(tx, events::escalated(&entry, escalation, now), version)
            .await?;
        tracing::info!(ticket_id = %ticket, from = %before.tier, to = %new_tier, reason, "ticket escalated");
        Ok(Some((entry, new_tier)))
    }

    /// Moves a waiting ticket ahead (its clock gave the warning); the entry's new version (the
    /// warning's number), `None` when routing has no entry.
    pub async fn raise(&self, tx: &mut Tx, ticket: TicketId) -> anyhow::Result<Option<i64>> {
        let Some(e) = entries::entry_for_update(tx, ticket).await? else {
            return Ok(None);
        };
        let score = queue::score(
            e.enqueued_at,
            events::priority(&e.priority),
            standing(&e, true),
            &self.inner.boosts,
        )
        .min(e.score);
        let requirement = Requirement {
            tier: &e.tier,
            priority: &e.priority,
            score,
        };
        let raised = entries::set_requirement(
            tx,
            ticket,
            requirement,
            "raised",
            serde_json::json!({"reason": "sla_warning"}),
            self.now(),
        )
        .await?;
        if e.status == EntryStatus::Waiting {
            self.inner.live.update_waiting(&e.queue, ticket, score, &e.tier).await?;
        }
        Ok(raised.map(|r| r.version))
    }

    /// The supervisor to tell about a ticket: its agent's, else the configured one.
    pub fn supervisor_of(&self, agent: Option<AgentId>) -> Option<AgentId> {
        agent
            .and_then(|a| self.inner.catalog.agent(a))
            .and_then(|a| a.supervisor_id)
            .or(self.inner.settings.escalation_supervisor_id.map(AgentId::from))
    }

    /// An agent who holds the ticket, or a supervisor, escalates it a tier up with `reason`;
    /// the entry afterwards.
    pub async fn escalate_by(&self, ticket: TicketId, actor: Actor, reason: &str) -> Result<QueueEntryRow, ApiError> {
        let before = entries::entry(&self.inner.pool, ticket)
            .await?
            .ok_or_else(|| ApiError::not_found("queue entry"))?;
        if !actor.manager && !actor.holds(&before) {
            return Err(ApiError::forbidden(
                "only the agent who has the ticket or a supervisor may escalate it",
            ));
        }
        self.inner.catalog.fresh().await?;
        let mut tx = self.inner.pool.begin().await?;
        let supervisor = self.supervisor_of(before.agent_id);
        let (entry, _) = self
            .escalate(&mut tx, ticket, &format!("manual: {reason}"), true, supervisor)
            .await?
            .ok_or_else(|| ApiError::conflict("not_escalatable", format!("the ticket is {}", before.status)))?;
        tx.commit().await?;
        self.wake();
        Ok(entry)
    }
}
