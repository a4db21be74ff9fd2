//! Events published by the routing service.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::{AgentId, CustomerId, TicketId};

use crate::Event;
use crate::vocabulary::{Channel, Priority};

/// `routing.ticket.queued` v1: a ticket entered a live queue and waits for an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketQueuedV1 {
    pub ticket_id: TicketId,
    pub customer_id: CustomerId,
    /// The live queue it waits in (`general`, `technical`, ...).
    pub queue: String,
    pub channel: Channel,
    pub priority: Priority,
    pub queued_at: DateTime<Utc>,
}

/// `routing.ticket.offered` v1: a ticket was offered to an agent, who has until `expires_at`
/// to accept it before it goes to the next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketOfferedV1 {
    pub ticket_id: TicketId,
    pub customer_id: CustomerId,
    pub agent_id: AgentId,
    pub queue: String,
    pub channel: Channel,
    pub expires_at: DateTime<Utc>,
    pub offered_at: DateTime<Utc>,
}

/// `routing.ticket.assigned` v1: an agent took a ticket (accepted an offer, pulled it, was given
/// it by an auto-accept queue, or a supervisor gave it to them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketAssignedV1 {
    pub ticket_id: TicketId,
    pub customer_id: CustomerId,
    pub agent_id: AgentId,
    pub queue: String,
    pub channel: Channel,
    /// The tier the ticket needed (`junior`, `mid`, `senior`).
    pub tier: String,
    /// `offer`, `pull`, `auto` (an auto-accept queue), `transfer` or `manual`.
    pub how: String,
    pub assigned_at: DateTime<Utc>,
}

/// `routing.ticket.transferred` v1: a ticket moved to another agent or back to a queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketTransferredV1 {
    pub ticket_id: TicketId,
    pub customer_id: CustomerId,
    pub from_agent_id: Option<AgentId>,
    /// The agent who now has it; `None` when it waits in `queue` again.
    pub to_agent_id: Option<AgentId>,
    pub queue: String,
    pub reason: Option<String>,
    /// Who moved it.
    pub actor_id: Uuid,
    pub transferred_at: DateTime<Utc>,
}

/// `routing.ticket.escalated` v1: a ticket moved up a tier and/or in priority.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketEscalatedV1 {
    pub ticket_id: TicketId,
    pub customer_id: CustomerId,
    pub from_tier: String,
    pub to_tier: String,
    pub priority: Priority,
    /// `sla_breach` or `manual`.
    pub reason: String,
    /// The agent who had it, if any.
    pub agent_id: Option<AgentId>,
    pub supervisor_id: Option<AgentId>,
    pub escalated_at: DateTime<Utc>,
}

/// What a service-level timer measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlaTimerRef {
    pub ticket_id: TicketId,
    pub customer_id: CustomerId,
    /// `first_response`, `next_update` or `resolution`.
    pub metric: String,
    /// The policy that set the target.
    pub policy: String,
    pub target_secs: i64,
    pub due_at: DateTime<Utc>,
    /// The agent who has the ticket, if any, and the supervisor to tell.
    pub agent_id: Option<AgentId>,
    pub supervisor_id: Option<AgentId>,
}

/// `routing.sla.warning` v1: 80% of a target's time has passed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlaWarningV1 {
    #[serde(flatten)]
    pub timer: SlaTimerRef,
    pub warned_at: DateTime<Utc>,
}

/// `routing.sla.breached` v1: a target was missed; the ticket is escalated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlaBreachedV1 {
    #[serde(flatten)]
    pub timer: SlaTimerRef,
    /// The tier it was re-routed to, when the policy moves breached tickets up.
    pub escalated_to_tier: Option<String>,
    pub breached_at: DateTime<Utc>,
}

macro_rules! ticket_event {
    ($ty:ty, $name:literal) => {
        impl Event for $ty {
            const TYPE: &'static str = $name;
            const VERSION: u32 = 1;

            fn subject(&self) -> Option<String> {
                Some(self.ticket_id.to_string())
            }
        }
    };
}

ticket_event!(TicketQueuedV1, "routing.ticket.queued");
ticket_event!(TicketOfferedV1, "routing.ticket.offered");
ticket_event!(TicketAssignedV1, "routing.ticket.assigned");
ticket_event!(TicketTransferredV1, "routing.ticket.transferred");
ticket_event!(TicketEscalatedV1, "routing.ticket.escalated");

impl Event for SlaWarningV1 {
    const TYPE: &'static str = "routing.sla.warning";
    const VERSION: u32 = 1;

    fn subject(&self) -> Option<String> {
        Some(self.timer.ticket_id.to_string())
    }
}

impl Event for SlaBreachedV1 {
    const TYPE: &'static str = "routing.sla.breached";
    const VERSION: u32 = 1;

    fn subject(&self) -> Option<String> {
        Some(self.timer.ticket_id.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventEnvelope, RawEnvelope};

    #[test]
    fn round_trips_through_json() {
        let env = EventEnvelope::new(
            "routing",
            TicketQueuedV1 {
                ticket_id: TicketId::new(),
                customer_id: CustomerId::new(),
                queue: "general".into(),
                channel: Channel::Chat,
                priority: Priority::High,
                queued_at: Utc::now(),
            },
        );
        let text = serde_json::to_string(&env).expect("json");
        let raw: RawEnvelope = serde_json::from_str(&text).expect("parse");
        assert_eq!(raw.event_type, "routing.ticket.queued");
        assert_eq!(raw.decode::<TicketQueuedV1>().expect("decode"), env);
    }

    #[test]
    fn sla_events_are_flat_on_the_wire() {
        let breached = SlaBreachedV1 {
            timer: SlaTimerRef {
                ticket_id: TicketId::new(),
                customer_id: CustomerId::new(),
                metric: "first_response".into(),
                policy: "chat".into(),
                target_secs: 30,
                due_at: Utc::now(),
                agent_id: None,
                supervisor_id: Some(AgentId::new()),
            },
            escalated_to_tier: Some("mid".into()),
            breached_at: Utc::now(),
        };
        let json = serde_json::to_value(&breached).expect("json");
        assert_eq!(json["metric"], "first_response");
        assert_eq!(json["escalated_to_tier"], "mid");
        let back: SlaBreachedV1 = serde_json::from_value(json).expect("parse");
        assert_eq!(back, breached);
        assert_eq!(back.subject(), Some(back.timer.ticket_id.to_string()));
    }
}
