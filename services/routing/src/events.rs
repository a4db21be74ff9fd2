//! What routing publishes: the payloads of its ticket and service-level events, built from
//! queue entries, live tickets and clocks.

use chrono::{DateTime, Utc};
use contracts::routing::{
    SlaBreachedV1, SlaTimerRef, SlaWarningV1, TicketAssignedV1, TicketEscalatedV1, TicketOfferedV1, TicketQueuedV1,
    TicketTransferredV1,
};
use contracts::vocabulary::{Channel, Priority};
use contracts::{AgentId, CustomerId};
use uuid::Uuid;

use crate::adapters::live::LiveTicket;
use crate::store::entries::QueueEntryRow;
use crate::store::sla::TimerRow;

/// A stored channel name as the contract's channel (`api` when unknown).
pub fn channel(s: &str) -> Channel {
    Channel::parse(s).unwrap_or(Channel::Api)
}

/// A stored priority as the contract's priority (`normal` when unknown).
pub fn priority(s: &str) -> Priority {
    Priority::parse(s).unwrap_or(Priority::Normal)
}

/// `routing.ticket.queued` for an entry that now waits.
pub fn queued(entry: &QueueEntryRow) -> TicketQueuedV1 {
    TicketQueuedV1 {
        ticket_id: entry.ticket_id,
        customer_id: entry.customer_id,
        queue: entry.queue.clone(),
        channel: channel(&entry.channel),
        priority: priority(&entry.priority),
        queued_at: entry.enqueued_at,
    }
}

/// `routing.ticket.offered`: a waiting ticket offered to `agent` until `expires_at`.
pub fn offered(
    t: &LiveTicket,
    customer_id: CustomerId,
    agent: AgentId,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> TicketOfferedV1 {
    TicketOfferedV1 {
        ticket_id: t.ticket_id,
        customer_id,
        agent_id: agent,
        queue: t.queue.clone(),
        channel: channel(&t.channel),
        expires_at,
        offered_at: now,
    }
}

/// `routing.ticket.assigned`: a waiting ticket given to `agent` (`how`: `pull` or `auto`).
pub fn assigned_waiting(
    t: &LiveTicket,
    customer_id: CustomerId,
    agent: AgentId,
    how: &str,
    now: DateTime<Utc>,
) -> TicketAssignedV1 {
    TicketAssignedV1 {
        ticket_id: t.ticket_id,
        customer_id,
        agent_id: agent,
        queue: t.queue.clone(),
        channel: channel(&t.channel),
        tier: t.tier.clone(),
        how: how.to_owned(),
        assigned_at: now,
    }
}

/// `routing.ticket.assigned`: an entry now held by `agent` (`how`: `offer` or `transfer`).
pub fn assigned(e: &QueueEntryRow, agent: AgentId, how: &str, now: DateTime<Utc>) -> TicketAssignedV1 {
    TicketAssignedV1 {
        ticket_id: e.ticket_id,
        customer_id: e.customer_id,
        agent_id: agent,
        queue: e.queue.clone(),
        channel: channel(&e.channel),
        tier: e.tier.clone(),
        how: how.to_owned(),
        assigned_at: now,
    }
}

/// What a transfer moved: from whom, to whom (or to the entry's queue), why and by whom.
pub struct Transfer {
    pub from_agent_id: Option<AgentId>,
    pub to_agent_id: Option<AgentId>,
    pub reason: Option<String>,
    pub actor_id: Uuid,
}

/// `routing.ticket.transferred`.
pub fn transferred(entry: &QueueEntryRow, transfer: Transfer, now: DateTime<Utc>) -> TicketTransferredV1 {
    TicketTransferredV1 {
        ticket_id: entry.ticket_id,
        customer_id: entry.customer_id,
        from_agent_id: transfer.from_agent_id,
        to_agent_id: transfer.to_agent_id,
        queue: entry.queue.clone(),
        reason: transfer.reason,
        actor_id: transfer.actor_id,
        transferred_at: now,
    }
}

/// What an escalation changed.
pub struct Escalation<'a> {
    pub from_tier: &'a str,
    pub to_tier: &'a str,
    pub priority: Priority,
    pub reason: &'a str,
    pub agent_id: Option<AgentId>,
    pub supervisor_id: Option<AgentId>,
}

/// `routing.ticket.escalated`.
pub fn escalated(entry: &QueueEntryRow, e: Escalation<'_>, now: DateTime<Utc>) -> TicketEscalatedV1 {
    TicketEscalatedV1 {
        ticket_id: entry.ticket_id,
        customer_id: entry.customer_id,
        from_tier: e.from_tier.to_owned(),
        to_tier: e.to_tier.to_owned(),
        priority: e.priority,
        reason: e.reason.to_owned(),
        agent_id: e.agent_id,
        supervisor_id: e.supervisor_id,
        escalated_at: now,
    }
}

/// The clock a service-level event is about, with the ticket's holder and their supervisor
/// (`now` stands for a due time the clock does not have).
pub fn timer_ref(
    t: &TimerRow,
    entry: &QueueEntryRow,
    supervisor_id: Option<AgentId>,
    now: DateTime<Utc>,
) -> SlaTimerRef {
    SlaTimerRef {
        ticket_id: t.ticket_id,
        customer_id: entry.customer_id,
        metric: t.metric.clone(),
        policy: t.policy.clone(),
        target_secs: t.target_secs,
        due_at: t.due_at.unwrap_or(now),
        agent_id: entry.agent_id,
        supervisor_id,
    }
}

/// `routing.sla.warning`.
pub fn sla_warning(timer: SlaTimerRef, now: DateTime<Utc>) -> SlaWarningV1 {
    SlaWarningV1 { timer, warned_at: now }
}

/// `routing.sla.breached`.
pub fn sla_breached(timer: SlaTimerRef, escalated_to_tier: Option<String>, now: DateTime<Utc>) -> SlaBreachedV1 {
    SlaBreachedV1 {
        timer,
        escalated_to_tier,
        breached_at: now,
    }
}
