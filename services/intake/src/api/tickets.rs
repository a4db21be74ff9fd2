//! `/v1/tickets`.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use platform::auth::Principal;
use platform::error::Problem;
use platform::idempotency::{self, Begun};
use platform::{ApiError, Platform};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::IntakeSettings;
use crate::domain::classify::{Classifier, Input};
use crate::domain::ticket::{self, NewTicket};
use crate::store::{self, TicketRow};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTicketRequest {
    /// `web`, `chat`, `email`, `phone`, `walk_in` or `api`.
    #[schema(example = "web")]
    pub channel: String,
    #[schema(example = "How do I join tonight's live class?")]
    pub subject: String,
    pub body: String,
    /// The customer the ticket is for; required for agents and services, implied for customers.
    #[serde(default)]
    pub customer_id: Option<Uuid>,
    /// `low`, `normal` (default), `high` or `urgent`.
    #[serde(default)]
    pub priority: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TicketResponse {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub channel: String,
    pub subject: String,
    pub body: String,
    pub status: String,
    pub priority: String,
    pub classification: ClassificationResponse,
    /// When staff first answered publicly.
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub reopen_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What classification decided on create, and why.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ClassificationResponse {
    /// `course_consultation`, `technical`, `learning_progress`, `refund`, `complaint`,
    /// `course_suggestion`, `resource_request` or `other`.
    pub category: String,
    /// `zh-CN` or `en`.
    pub language: String,
    /// `k12`, `higher` or `vocational`, when recognisable.
    pub education_level: Option<String>,
    pub keywords: Vec<String>,
    /// Angry or distressed language, or repeated contact: routed to senior agents.
    pub high_emotion: bool,
    /// The terms and scores behind each decision.
    #[schema(value_type = Object)]
    pub explanation: serde_json::Value,
}

impl From<TicketRow> for TicketResponse {
    fn from(t: TicketRow) -> Self {
        Self {
            id: t.id,
            customer_id: t.customer_id,
            channel: t.channel,
            subject: t.subject,
            body: t.body,
            status: t.status,
            priority: t.priority,
            classification: ClassificationResponse {
                category: t.category,
                language: t.language,
                education_level: t.education_level,
                keywords: t.keywords,
                high_emotion: t.high_emotion,
                explanation: t.classification,
            },
            first_response_at: t.first_response_at,
            resolved_at: t.resolved_at,
            closed_at: t.closed_at,
            reopen_count: t.reopen_count,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// Open a ticket.
///
/// A customer opens one for themselves; an agent or a service names the customer. With an
/// `Idempotency-Key`, a retried request returns the first response and opens nothing new.
#[utoipa::path(
    post,
    path = "/v1/tickets",
    tag = "tickets",
    request_body = CreateTicketRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create return the first result")),
    responses(
        (status = 201, description = "Opened", body = TicketResponse),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_ticket(
    req: HttpRequest,
    caller: Principal,
    platform: web::Data<Platform>,
    limits: web::Data<IntakeSettings>,
    classifier: web::Data<Classifier>,
    body: web::Json<CreateTicketRequest>,
) -> Result<HttpResponse, ApiError> {
    let valid = ticket::validate(
        &caller,
        &NewTicket {
            channel: &body.channel,
            subject: &body.subject,
            body: &body.body,
            customer_id: body.customer_id,
            priority: body.priority.as_deref(),
        },
        &limits,
    )?;
    let scope = format!("tickets:{}", caller.subject);
    let mut work = match idempotency::begin(&platform.pool, &req, &scope, &*body).await? {
        Begun::Fresh(work) => work,
        Begun::Replay(first) => return Ok(first),
    };
    let recent_contacts =
        store::recent_ticket_count(&mut work.tx, valid.customer_id, limits.repeat_contact_window_hours).await?;
    let classified = classifier.classify(Input {
        subject: &valid.subject,
        body: &valid.body,
        recent_contacts,
    });
    let priority = ticket::priority(valid.requested_priority, classified.priority);
    let row = store::insert_ticket(&mut work.tx, &valid, &classified, priority, caller.subject).await?;
    platform
        .outbox
        .stage(&mut work.tx, crate::events::ticket_created(&row))
        .await?;
    let response = TicketResponse::from(row);
    let tx = work.finish(StatusCode::CREATED, &response).await?;
    platform.outbox.commit(tx).await?;
    tracing::info!(
        ticket_id = %response.id,
        channel = %response.channel,
        category = %response.classification.category,
        high_emotion = response.classification.high_emotion,
        "ticket opened"
    );
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, format!("/v1/tickets/{}", response.id)))
        .json(response))
}

/// Read a ticket. Customers see only their own; another's is a 404.
#[utoipa::path(
    get,
    path = "/v1/tickets/{ticket_id}",
    tag = "tickets",
    params(("ticket_id" = Uuid, Path)),
    responses(
        (status = 200, body = TicketResponse),
        (status = 404, description = "No such ticket, or not yours", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_ticket(
    caller: Principal,
    platform: web::Data<Platform>,
    path: web::Path<Uuid>,
) -> Result<web::Json<TicketResponse>, ApiError> {
    let id = path.into_inner();
    match store::ticket(&platform.pool, id).await? {
        Some(t) if ticket::may_read(&caller, t.customer_id) => Ok(web::Json(t.into())),
        _ => Err(ApiError::not_found("ticket")),
    }
}
