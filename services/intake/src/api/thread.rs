//! `/v1/tickets/{id}/transitions` and `/v1/tickets/{id}/messages`.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use platform::auth::Principal;
use platform::error::{Problem, Validator};
use platform::{ApiError, Platform};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::tickets::TicketResponse;
use crate::domain::lifecycle::{Action, Status};
use crate::domain::ticket;
use crate::lifecycle::Lifecycle;
use crate::store::{self, MessageRow, NewMessage, TicketRow};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    /// `start`, `wait_on_customer`, `resolve`, `close`, `reopen`, `cancel` (customers: `close`,
    /// `reopen`, `cancel`); `queue`, `assign`, `auto_answer` for services and supervisors.
    pub action: Action,
    /// For `assign`: the agent who takes the ticket (required). `start` by an agent makes
    /// them the assignee when there is none.
    #[serde(default)]
    pub agent_id: Option<Uuid>,
}

/// Change a ticket's status.
///
/// An action the ticket's status does not allow is a 409 `illegal_transition` and changes
/// nothing; reopening after the window is a 409 `reopen_window_passed`.
#[utoipa::path(post, path = "/v1/tickets/{ticket_id}/transitions", tag = "tickets", params(("ticket_id" = Uuid, Path)),
    request_body = TransitionRequest,
    responses(
        (status = 200, body = TicketResponse),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn transition(
    caller: Principal,
    platform: web::Data<Platform>,
    lifecycle: web::Data<Lifecycle>,
    path: web::Path<Uuid>,
    body: web::Json<TransitionRequest>,
) -> Result<web::Json<TicketResponse>, ApiError> {
    let mut tx = platform.pool.begin().await?;
    let ticket = visible_ticket(&mut tx, &caller, path.into_inner()).await?;
    if !body.action.allowed_for(&caller, ticket.customer_id) {
        return Err(ApiError::forbidden(format!(
            "you may not {} this ticket",
            body.action.as_str().replace('_', " ")
        )));
    }
    let assignee = match body.action {
        Action::Assign => Some(
            body.agent_id
                .ok_or_else(|| ApiError::field("agent_id", "required to assign a ticket"))?,
        ),
        Action::Start if caller.is_staff() && ticket.assignee_id.is_none() => Some(caller.subject),
        _ => None,
    };
    let updated = lifecycle
        .apply_with(&mut tx, &ticket, body.action, caller.subject, assignee)
        .await?;
    platform.outbox.commit(tx).await?;
    Ok(web::Json(updated.into()))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMessageRequest {
    pub body: String,
    /// `message` (default), `progress_update` (staff: an update with an estimate, public) or
    /// `note` (staff: internal, never shown to the customer).
    #[serde(default)]
    pub kind: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MessageResponse {
    pub id: Uuid,
    pub ticket_id: Uuid,
    pub author_id: Uuid,
    /// `customer`, `agent` or `system`.
    pub author_role: String,
    /// `public` or `internal`.
    pub visibility: String,
    pub kind: String,
    pub body: String,
    /// The channel a customer's message came in on (`email`, `chat`, ...), when not the API.
    pub channel: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<MessageRow> for MessageResponse {
    fn from(m: MessageRow) -> Self {
        Self {
            id: m.id,
            ticket_id: m.ticket_id,
            author_id: m.author_id,
            author_role: m.author_role,
            visibility: m.visibility,
            kind: m.kind,
            body: m.body,
            channel: m.channel,
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageListResponse {
    pub items: Vec<MessageResponse>,
}

/// Add a message to a ticket's thread.
///
/// The first public message by staff stamps the ticket's first response. A customer's message
/// on a ticket waiting on them puts it back in progress. Closed, cancelled and resolved tickets
/// take no messages (reopen first): 409.
#[utoipa::path(post, path = "/v1/tickets/{ticket_id}/messages", tag = "tickets", params(("ticket_id" = Uuid, Path)),
    request_body = CreateMessageRequest,
    responses(
        (status = 201, body = MessageResponse),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn add_message(
    caller: Principal,
    platform: web::Data<Platform>,
    lifecycle: web::Data<Lifecycle>,
    path: web::Path<Uuid>,
    body: web::Json<CreateMessageRequest>,
) -> Result<HttpResponse, ApiError> {
    let staff = caller.is_staff_or_service();
    let kind = body.kind.as_deref().unwrap_or("message");
    let mut v = Validator::new();
    v.text(&body.body, "body", 20_000);
    v.check(
        ["message", "progress_update", "note"].contains(&kind),
        "kind",
        "must be message, progress_update or note",
    );
    v.check(staff || kind == "message", "kind", "customers send messages only");
    v.finish()?;

    let mut tx = platform.pool.begin().await?;
    let mut ticket = visible_ticket(&mut tx, &caller, path.into_inner()).await?;
    let status = Status::parse(&ticket.status).unwrap_or(Status::Closed);
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
        (true, _) => (if caller.is_staff() { "agent" } else { "system" }, "public"),
        (false, _) => ("customer", "public"),
    };
    let message = store::insert_message(
        &mut tx,
        &NewMessage {
            ticket_id: ticket.id,
            author_id: caller.subject,
            author_role,
            visibility,
            kind,
            body: body.body.trim(),
            channel: None,
            external_id: None,
        },
    )
    .await?;
    let first_response =
        author_role == "agent" && visibility == "public" && store::stamp_first_response(&mut tx, ticket.id).await?;
    if author_role == "customer" && status == Status::WaitingOnCustomer {
        ticket = lifecycle
            .apply(&mut tx, &ticket, Action::CustomerReplied, caller.subject)
            .await?;
    }
    platform
        .outbox
        .stage(
            &mut tx,
            crate::events::message_added(ticket.customer_id, &message, first_response),
        )
        .await?;
    platform.outbox.commit(tx).await?;
    Ok(HttpResponse::Created().json(MessageResponse::from(message)))
}

/// A ticket's thread, oldest first. Customers see public messages only.
#[utoipa::path(get, path = "/v1/tickets/{ticket_id}/messages", tag = "tickets", params(("ticket_id" = Uuid, Path)),
    responses((status = 200, body = MessageListResponse), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list_messages(
    caller: Principal,
    platform: web::Data<Platform>,
    path: web::Path<Uuid>,
) -> Result<web::Json<MessageListResponse>, ApiError> {
    let id = path.into_inner();
    let ticket = store::ticket(&platform.pool, id)
        .await?
        .filter(|t| ticket::may_read(&caller, t.customer_id))
        .ok_or_else(|| ApiError::not_found("ticket"))?;
    let staff = caller.is_staff_or_service();
    let items = store::messages(&platform.pool, ticket.id, staff)
        .await?
        .into_iter()
        .map(MessageResponse::from)
        .collect();
    Ok(web::Json(MessageListResponse { items }))
}

/// The ticket, locked, if the caller may see it; another customer's ticket is a 404.
async fn visible_ticket(tx: &mut platform::Tx, caller: &Principal, id: Uuid) -> Result<TicketRow, ApiError> {
    store::ticket_for_update(tx, id)
        .await?
        .filter(|t| ticket::may_read(caller, t.customer_id))
        .ok_or_else(|| ApiError::not_found("ticket"))
}
