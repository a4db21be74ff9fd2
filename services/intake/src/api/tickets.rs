//! `/v1/tickets`.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use platform::auth::Principal;
use platform::error::Problem;
use platform::idempotency::{self, Begun};
use platform::pagination::{PageQuery, next_cursor};
use platform::{ApiError, Platform};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::ticket::{self, FaultRecord, NewTicket};
use crate::open::{Opened, Opener};
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
    /// For technical problems: symptom, device, environment, steps tried, fault type.
    #[serde(default)]
    pub fault: Option<FaultRecord>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TicketResponse {
    pub id: Uuid,
    /// Human-readable number; `[#<number>]` in an email subject threads the mail here.
    pub number: i64,
    pub customer_id: Uuid,
    pub channel: String,
    pub subject: String,
    pub body: String,
    pub status: String,
    pub priority: String,
    pub classification: ClassificationResponse,
    /// The customer's role and segments when the ticket was opened (from their profile).
    pub customer_role: Option<String>,
    pub customer_segments: Vec<String>,
    /// Technical tickets: the fault record.
    #[schema(value_type = Option<FaultRecord>)]
    pub fault: Option<serde_json::Value>,
    pub incident_id: Option<Uuid>,
    /// The agent working on it.
    pub assignee_id: Option<Uuid>,
    /// The knowledge-base article sent as the automatic answer, and its confidence (0-1).
    pub answer_article_id: Option<Uuid>,
    pub answer_confidence: Option<f32>,
    /// Resolved by the automatic answer, without a person.
    pub deflected: bool,
    /// The resolution target of its category (feedback and suggestions: 48 hours).
    pub resolve_by: Option<DateTime<Utc>>,
    pub resolved_by: Option<Uuid>,
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
    /// For technical tickets: `hardware`, `software` or `network`.
    pub fault_type: Option<String>,
    /// The terms and scores behind each decision.
    #[schema(value_type = Object)]
    pub explanation: serde_json::Value,
}

impl From<TicketRow> for TicketResponse {
    fn from(t: TicketRow) -> Self {
        Self {
            id: t.id,
            number: t.number,
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
                fault_type: t.fault_type,
                explanation: t.classification,
            },
            customer_role: t.customer_role,
            customer_segments: t.customer_segments,
            fault: t.fault,
            incident_id: t.incident_id,
            assignee_id: t.assignee_id,
            answer_article_id: t.answer_article_id,
            answer_confidence: t.answer_score,
            deflected: t.deflected,
            resolve_by: t.resolve_by,
            resolved_by: t.resolved_by,
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
/// A customer opens one for themselves; an agent or a service names the customer (phone and
/// walk-in tickets are logged by agents). The ticket is classified, then either answered at
/// once from the knowledge base (`auto_answered`, waiting for the customer's verdict) or
/// queued for a person. The same question from the same customer on another channel within
/// the duplicate window is merged into their open ticket: 200 with that ticket. With an
/// `Idempotency-Key`, a retried request returns the first response and opens nothing new.
/// Too many creates for one customer: 429 with `Retry-After`.
#[utoipa::path(
    post,
    path = "/v1/tickets",
    tag = "tickets",
    request_body = CreateTicketRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create return the first result")),
    responses(
        (status = 201, description = "Opened", body = TicketResponse),
        (status = 200, description = "Merged into the customer's open ticket about the same question", body = TicketResponse),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many tickets from this customer; see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_ticket(
    req: HttpRequest,
    caller: Principal,
    platform: web::Data<Platform>,
    opener: web::Data<Opener>,
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
            fault: body.fault.as_ref(),
        },
        &opener.settings,
    )?;
    let opened = if idempotency::key_from(&req)?.is_none() {
        let who = valid.customer_id.to_string();
        opener
            .open_alone(&valid, caller.subject, opener.rate_limit(&who))
            .await?
    } else {
        let scope = format!("tickets:{}", caller.subject);
        let mut work = match idempotency::begin(&platform.pool, &req, &scope, &*body).await? {
            Begun::Fresh(work) => work,
            Begun::Replay(first) => return Ok(first),
        };
        opener.rate_limit(&valid.customer_id.to_string()).await?;
        let opened = opener.open(&mut work.tx, &valid, caller.subject, None).await?;
        let (status, response) = created_or_merged(opened);
        let tx = work.finish(status, &response).await?;
        platform.outbox.commit(tx).await?;
        return Ok(opened_response(status, response));
    };
    let (status, response) = created_or_merged(opened);
    Ok(opened_response(status, response))
}

/// 201 for a new ticket, 200 for a merge into the open one.
fn created_or_merged(opened: Opened) -> (StatusCode, TicketResponse) {
    match opened {
        Opened::Created(row) => (StatusCode::CREATED, TicketResponse::from(row)),
        Opened::Merged(row) => (StatusCode::OK, TicketResponse::from(row)),
    }
}

fn opened_response(status: StatusCode, response: TicketResponse) -> HttpResponse {
    tracing::info!(
        ticket_id = %response.id,
        channel = %response.channel,
        status = %response.status,
        category = %response.classification.category,
        high_emotion = response.classification.high_emotion,
        merged = status == StatusCode::OK,
        "ticket opened"
    );
    HttpResponse::build(status)
        .insert_header((LOCATION, format!("/v1/tickets/{}", response.id)))
        .json(response)
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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TicketListQuery {
    pub status: Option<String>,
    pub category: Option<String>,
    pub channel: Option<String>,
    /// Staff only; customers always see their own.
    pub customer_id: Option<Uuid>,
    pub incident_id: Option<Uuid>,
    /// 1-100, default 20.
    pub limit: Option<i64>,
    /// From `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TicketListResponse {
    pub items: Vec<TicketResponse>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// List tickets, newest first. Customers see their own; staff filter by anything.
#[utoipa::path(get, path = "/v1/tickets", tag = "tickets", params(TicketListQuery),
    responses((status = 200, body = TicketListResponse), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn list_tickets(
    caller: Principal,
    platform: web::Data<Platform>,
    query: web::Query<TicketListQuery>,
) -> Result<web::Json<TicketListResponse>, ApiError> {
    let q = query.into_inner();
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    };
    let (limit, after) = page.resolve(100)?;
    let customer_id = if caller.is_staff_or_service() {
        q.customer_id
    } else {
        Some(caller.subject)
    };
    let filter = store::TicketFilter {
        customer_id,
        status: q.status,
        category: q.category,
        channel: q.channel,
        incident_id: q.incident_id,
    };
    Ok(web::Json(page_of(&platform, &filter, limit, after).await?))
}

/// One page of tickets matching `filter`.
pub async fn page_of(
    platform: &Platform,
    filter: &store::TicketFilter,
    limit: i64,
    after: Option<platform::pagination::After>,
) -> Result<TicketListResponse, ApiError> {
    let rows = store::list(&platform.pool, filter, limit, after).await?;
    let next_cursor = next_cursor(&rows, limit, |t| (t.created_at, t.id));
    Ok(TicketListResponse {
        items: rows.into_iter().map(TicketResponse::from).collect(),
        next_cursor,
    })
}
