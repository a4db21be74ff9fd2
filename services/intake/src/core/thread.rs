//! A ticket's status changes and conversation on behalf of a caller: the ticket is locked and
//! must be visible to the caller (another customer's ticket is a 404); the change and its
//! events are written in one transaction.

use contracts::{AgentId, TicketId};
use platform::auth::{Principal, Role};
use platform::{ApiError, Platform};

use crate::core::lifecycle::{ANSWER_TIMEOUT_JOB, Lifecycle};
use crate::domain::lifecycle::{Action, Status};
use crate::events;
use crate::store::{self, MessageRow, NewMessage, TicketRow};

/// Applies `action` for `caller` (403 when their role does not allow it); `assign` needs the
/// agent, and an agent starting an unassigned ticket takes it.
pub async fn transition(
    platform: &Platform,
    lifecycle: &Lifecycle,
    caller: &Principal,
    id: TicketId,
    action: Action,
    agent_id: Option<AgentId>,
) -> Result<TicketRow, ApiError> {
    let mut tx = platform.pool.begin().await?;
    let ticket = visible_ticket(&mut tx, caller, id).await?;
    if !action.allowed_for(caller, ticket.customer_id) {
        return Err(ApiError::forbidden(format!(
            "you may not {} this ticket",
            action.as_str().replace('_', " ")
        )));
    }
    let assignee = match action {
        Action::Assign => Some(agent_id.ok_or_else(|| ApiError::field("agent_id", "required to assign a ticket"))?),
        Action::Start if caller.is_desk() && ticket.assignee_id.is_none() => Some(caller.subject.into()),
        _ => None,
    };
    let updated = lifecycle
        .apply_with(&mut tx, &ticket, action, caller.subject, assignee)
        .await?;
    platform.outbox.commit(tx).await?;
    Ok(updated)
}

/// Adds `caller`'s message of `kind` (checked by the caller: staff kinds only for staff) to the
/// thread. Resolved, closed and cancelled tickets take none (409). The first public message by
/// staff stamps the first response; a customer's message on a ticket waiting on them puts it
/// back in progress.
pub async fn add_message(
    platform: &Platform,
    lifecycle: &Lifecycle,
    caller: &Principal,
    id: TicketId,
    kind: &str,
    body: &str,
) -> Result<MessageRow, ApiError> {
    let staff = caller.is_desk_or_service();
    let mut tx = platform.pool.begin().await?;
    let ticket = visible_ticket(&mut tx, caller, id).await?;
    let status = ticket.status;
    if status.is_terminal() || status == Status::Resolved {
        return Err(ApiError::conflict(
            "ticket_not_open",
            format!(
                "the ticket is {}; reopen it to continue the conversation",
                status.as_str()
            ),
        ));
    }
    let (author_role, visibility) = match (staff, kind) {
        (true, "note") => ("agent", "internal"),
        (true, _) => (if caller.is_desk() { "agent" } else { "system" }, "public"),
        (false, _) => ("customer", "public"),
    };
    let now = platform.clock.now();
    let added = store::insert_message(
        &mut tx,
        &NewMessage {
            ticket_id: ticket.id,
            author_id: caller.subject,
            author_role,
            visibility,
            kind,
            body: body.trim(),
            channel: None,
            external_id: None,
        },
        now,
    )
    .await?;
    let first_response = author_role == "agent"
        && visibility == "public"
        && store::stamp_first_response(&mut tx, ticket.id, now).await?;
    // The message's event first: its number is the one the message took.
    platform
        .outbox
        .stage_sequenced(
            &mut tx,
            events::message_added(ticket.customer_id, &added.message, first_response),
            added.seq,
        )
        .await?;
    if author_role == "customer" && status == Status::WaitingOnCustomer {
        lifecycle
            .apply(&mut tx, &ticket, Action::CustomerReplied, caller.subject)
            .await?;
    }
    platform.outbox.commit(tx).await?;
    Ok(added.message)
}

/// The customer's verdict on the automatic answer of their ticket (a service may give it
/// too): solved resolves it without a person (a deflection), not solved hands it to a person.
/// A ticket not waiting for a verdict is a 409.
pub async fn answer_verdict(
    platform: &Platform,
    lifecycle: &Lifecycle,
    caller: &Principal,
    id: TicketId,
    solved: bool,
) -> Result<TicketRow, ApiError> {
    let mut tx = platform.pool.begin().await?;
    let ticket = store::ticket_for_update(&mut tx, id)
        .await?
        .filter(|t| t.customer_id == caller.subject.into() || caller.has(Role::Service))
        .ok_or_else(|| ApiError::not_found("ticket"))?;
    if ticket.status != Status::AutoAnswered {
        return Err(ApiError::conflict(
            "not_auto_answered",
            format!(
                "the ticket is {}, not waiting for a verdict on an automatic answer",
                ticket.status
            ),
        ));
    }
    let action = if solved { Action::Resolve } else { Action::Queue };
    lifecycle
        .jobs
        .cancel(&mut *tx, ANSWER_TIMEOUT_JOB, &ticket.id.to_string())
        .await?;
    let updated = lifecycle.apply(&mut tx, &ticket, action, caller.subject).await?;
    platform.outbox.commit(tx).await?;
    Ok(updated)
}

/// The ticket, locked, if the caller may see it; another customer's ticket is a 404.
async fn visible_ticket(tx: &mut platform::Tx, caller: &Principal, id: TicketId) -> Result<TicketRow, ApiError> {
    store::ticket_for_update(tx, id)
        .await?
        .filter(|t| caller.may_read_customer(t.customer_id))
        .ok_or_else(|| ApiError::not_found("ticket"))
}
