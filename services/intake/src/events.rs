//! What intake publishes.

use contracts::intake::TicketCreatedV1;
use contracts::vocabulary::{Channel, Priority};

use crate::store::TicketRow;

/// `intake.ticket.created` for a stored ticket.
pub fn ticket_created(t: &TicketRow) -> TicketCreatedV1 {
    TicketCreatedV1 {
        ticket_id: t.id,
        customer_id: t.customer_id,
        channel: Channel::parse(&t.channel).unwrap_or(Channel::Api),
        subject: t.subject.clone(),
        priority: Priority::parse(&t.priority).unwrap_or(Priority::Normal),
        category: Some(t.category.clone()),
        language: Some(t.language.clone()),
        created_at: t.created_at,
    }
}
