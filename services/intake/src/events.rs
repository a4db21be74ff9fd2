//! What intake publishes.

use contracts::intake::{TicketCreatedV1, TicketDetails, TicketMessageAddedV1};
use contracts::vocabulary::{Channel, Priority};

use crate::store::{MessageRow, TicketRow};

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
        details: TicketDetails {
            number: Some(t.number),
            status: Some(t.status.clone()),
            high_emotion: t.high_emotion,
            education_level: t.education_level.clone(),
            customer_role: t.customer_role.clone(),
            customer_segments: t.customer_segments.clone(),
            fault_type: t.fault_type.clone(),
            incident_id: t.incident_id,
        },
        created_at: t.created_at,
    }
}

/// `intake.ticket.message_added` for a stored message of a ticket of `customer_id`.
pub fn message_added(customer_id: uuid::Uuid, m: &MessageRow, first_response: bool) -> TicketMessageAddedV1 {
    TicketMessageAddedV1 {
        ticket_id: m.ticket_id,
        customer_id,
        message_id: m.id,
        author_role: m.author_role.clone(),
        author_id: m.author_id,
        visibility: m.visibility.clone(),
        kind: m.kind.clone(),
        first_response,
        added_at: m.created_at,
    }
}
