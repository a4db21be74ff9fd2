//! `/v1/tickets/{id}/transitions` and `/v1/tickets/{id}/messages`.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use contracts::{AgentId, TicketId};
use platform::auth::Principal;
use platform::error::Validator;
use platform::problems::{Conflict, NotFound};
use platform::{ApiError, Platform};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::common::TicketResponse;
use crate::core::lifecycle::Lifecycle;
use crate::core::thread;
use crate::domain::lifecycle::Action;
use crate::store::{self, MessageRow};

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
/// nothing; reopening after the window is a 409 `reopen_window_passed`. An action the caller's
/// role does not take is a 403. A service needs `tickets:write`.
#[utoipa::path(post, path = "/v1/tickets/{ticket_id}/transitions", tag = "tickets", params(("ticket_id" = Uuid, Path)),
    request_body = TransitionRequest,
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]),
        ("bearer" = ["service", "tickets:write"])),
    responses(
        (status = 200, body = TicketResponse),
        NotFound,
        Conflict,
    ))]
pub async fn transition(
    caller: Principal,
    platform: web::Data<Platform>,
    lifecycle: web::Data<Lifecycle>,
    path: web::Path<Uuid>,
    body: web::Json<TransitionRequest>,
) -> Result<web::Json<TicketResponse>, ApiError> {
    let agent_id = body.agent_id.map(AgentId::from);
    let updated = thread::transition(
        &platform,
        &lifecycle,
        &caller,
        path.into_inner().into(),
        body.action,
        agent_id,
    )
    .await?;
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
            id: m.id.into(),
            ticket_id: m.ticket_id.into(),
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
/// take no messages (reopen first): 409. A service needs `tickets:write`.
#[utoipa::path(post, path = "/v1/tickets/{ticket_id}/messages", tag = "tickets", params(("ticket_id" = Uuid, Path)),
    request_body = CreateMessageRequest,
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]),
        ("bearer" = ["service", "tickets:write"])),
    responses(
        (status = 201, body = MessageResponse),
        NotFound,
        Conflict,
    ))]
pub async fn add_message(
    caller: Principal,
    platform: web::Data<Platform>,
    lifecycle: web::Data<Lifecycle>,
    path: web::Path<Uuid>,
    body: web::Json<CreateMessageRequest>,
) -> Result<HttpResponse, ApiError> {
    let staff = caller.is_desk_or_service();
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

    let message = thread::add_message(
        &platform,
        &lifecycle,
        &caller,
        path.into_inner().into(),
        kind,
        &body.body,
    )
    .await?;
    Ok(HttpResponse::Created().json(MessageResponse::from(message)))
}

/// A ticket's thread, oldest first. Customers see public messages only. A service needs
/// `tickets:read`.
#[utoipa::path(get, path = "/v1/tickets/{ticket_id}/messages", tag = "tickets", params(("ticket_id" = Uuid, Path)),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]),
        ("bearer" = ["service", "tickets:read"])),
    responses((status = 200, body = MessageListResponse), NotFound))]
pub async fn list_messages(
    caller: Principal,
    platform: web::Data<Platform>,
    path: web::Path<Uuid>,
) -> Result<web::Json<MessageListResponse>, ApiError> {
    let id = TicketId::from(path.into_inner());
    let ticket = store::ticket(&platform.pool, id)
        .await?
        .filter(|t| caller.may_read_customer(t.customer_id))
        .ok_or_else(|| ApiError::not_found("ticket"))?;
    let staff = caller.is_desk_or_service();
    let items = store::messages(&platform.pool, ticket.id, staff)
        .await?
        .into_iter()
        .map(MessageResponse::from)
        .collect();
    Ok(web::Json(MessageListResponse { items }))
}
