//! What intake publishes. Times are the service's clock's (passed in, or stamped on the rows
//! from it). Every event whose subject is a ticket is staged with the ticket's number for it
//! (`subjectseq`; see `TicketRow::version` for which carry one and how it is kept).

use chrono::{DateTime, Utc};
use contracts::intake::{
    IncidentOpenedV1, IncidentResolvedV1, SurveyAnsweredV1, SurveyRequestedV1, TicketCreatedV1, TicketDetails,
    TicketMessageAddedV1, TicketReopenedV1, TicketResolvedV1, TicketStatusChangedV1,
};
use contracts::vocabulary::{Channel, Priority};
use contracts::{CustomerId, IncidentId, TicketId};
use uuid::Uuid;

use crate::domain::lifecycle::{Action, Status};
use crate::store::incidents::IncidentRow;
use crate::store::surveys::SurveyRow;
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
            status: Some(t.status),
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
pub fn message_added(customer_id: CustomerId, m: &MessageRow, first_response: bool) -> TicketMessageAddedV1 {
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

/// `intake.ticket.status_changed` for a ticket `t` moved from `from` by `action` of `actor`.
pub fn status_changed(
    t: &TicketRow,
    from: Status,
    action: Action,
    actor: Uuid,
    at: DateTime<Utc>,
) -> TicketStatusChangedV1 {
    TicketStatusChangedV1 {
        ticket_id: t.id,
        customer_id: t.customer_id,
        from,
        to: t.status,
        action: action.as_str().to_owned(),
        actor_id: actor,
        assignee_id: t.assignee_id,
        changed_at: at,
    }
}

/// `intake.ticket.resolved` for a ticket `by` resolved.
pub fn resolved(t: &TicketRow, by: Uuid, at: DateTime<Utc>) -> TicketResolvedV1 {
    TicketResolvedV1 {
        ticket_id: t.id,
        customer_id: t.customer_id,
        resolved_by: by,
        resolved_at: t.resolved_at.unwrap_or(at),
        first_response_at: t.first_response_at,
        created_at: t.created_at,
    }
}

/// `intake.ticket.reopened` for a ticket `by` reopened.
pub fn reopened(t: &TicketRow, by: Uuid, at: DateTime<Utc>) -> TicketReopenedV1 {
    TicketReopenedV1 {
        ticket_id: t.id,
        customer_id: t.customer_id,
        reopened_by: by,
        reopen_count: t.reopen_count,
        reopened_at: at,
    }
}

/// `intake.survey.requested`: the survey link's `token` for a resolved ticket.
pub fn survey_requested(
    t: &TicketRow,
    token: String,
    expires_at: DateTime<Utc>,
    at: DateTime<Utc>,
) -> SurveyRequestedV1 {
    SurveyRequestedV1 {
        ticket_id: t.id,
        customer_id: t.customer_id,
        token,
        expires_at,
        requested_at: at,
    }
}

/// `intake.survey.answered` for an answered survey (answered `at`, unless the row says when).
pub fn survey_answered(s: &SurveyRow, score: i16, comment: Option<&str>, at: DateTime<Utc>) -> SurveyAnsweredV1 {
    SurveyAnsweredV1 {
        ticket_id: s.ticket_id,
        customer_id: s.customer_id,
        score,
        comment: comment.map(str::to_owned),
        answered_at: s.answered_at.unwrap_or(at),
    }
}

/// `intake.incident.opened` for a new incident grouping `tickets`, opened `at`.
pub fn incident_opened(
    id: IncidentId,
    fault_type: &str,
    title: &str,
    tickets: Vec<TicketId>,
    at: DateTime<Utc>,
) -> IncidentOpenedV1 {
    IncidentOpenedV1 {
        incident_id: id,
        fault_type: fault_type.to_owned(),
        title: title.to_owned(),
        ticket_ids: tickets,
        opened_at: at,
    }
}

/// `intake.incident.resolved` for a resolved incident and the tickets resolved with it (resolved
/// `at`, unless the row says when).
pub fn incident_resolved(
    i: &IncidentRow,
    resolution: &str,
    tickets: Vec<TicketId>,
    by: Uuid,
    at: DateTime<Utc>,
) -> IncidentResolvedV1 {
    IncidentResolvedV1 {
        incident_id: i.id,
        resolution: resolution.to_owned(),
        ticket_ids: tickets,
        resolved_by: by,
        resolved_at: i.resolved_at.unwrap_or(at),
    }
}
