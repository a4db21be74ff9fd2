//! Events published by the routing service.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Event;
use crate::vocabulary::{Channel, Priority};

/// `routing.ticket.queued` v1: a ticket entered a live queue and waits for an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketQueuedV1 {
    pub ticket_id: Uuid,
    pub customer_id: Uuid,
    /// The live queue it waits in (`general`, `technical`, ...).
    pub queue: String,
    pub channel: Channel,
    pub priority: Priority,
    pub queued_at: DateTime<Utc>,
}

impl Event for TicketQueuedV1 {
    const TYPE: &'static str = "routing.ticket.queued";
    const VERSION: u32 = 1;

    fn subject(&self) -> Option<String> {
        Some(self.ticket_id.to_string())
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
                ticket_id: Uuid::now_v7(),
                customer_id: Uuid::new_v4(),
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
}
