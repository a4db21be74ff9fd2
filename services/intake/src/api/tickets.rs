//! `/v1/tickets`.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use contracts::TicketId;
use platform::auth::Principal;
use platform::error::Problem;
use platform::idempotency::{self, Begun};
use platform::pagination::PageQuery;
use platform::problems::{NotFound, Unprocessable};
use platform::{ApiError, Platform};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::common::{TicketListResponse, TicketResponse, page_of};
use crate::core::open::{Opened, Opener};
use crate::domain::ticket::{self, FaultRecord, TicketRequest};
use crate::store;

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

/// Open a ticket.
///
/// A customer opens one for themselves; an agent or a service names the customer (phone and
/// walk-in tickets are logged by agents). The ticket is classified, then either answered at
/// once from the knowledge base (`auto_answered`, waiting for the customer's verdict) or
/// queued for a person. The same question from the same customer on another channel within
/// the duplicate window is merged into their open ticket: 200 with that ticket. With an
/// `Idempotency-Key`, a retried request returns the first response and opens nothing new.
/// Too many creates for one customer: 429 with `Retry-After`. A service needs `tickets:write`.
#[utoipa::path(
    post,
    path = "/v1/tickets",
    tag = "tickets",
    request_body = CreateTicketRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create return the first result")),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]),
        ("bearer" = ["service", "tickets:write"])),
    responses(
        (status = 201, description = "Opened", body = TicketResponse),
        (status = 200, description = "Merged into the customer's open ticket about the same question", body = TicketResponse),
        (status = 409, description = "A request with this Idempotency-Key is still being processed; retry", body = Problem, content_type = "application/problem+json"),
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
        &TicketRequest {
            channel: &body.channel,
            subject: &body.subject,
            body: &body.body,
            customer_id: body.customer_id,
            priority: body.priority.as_deref(),
            fault: body.fault.as_ref(),
        },
        &opener.settings.ticket_limits(),
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

/// Read a ticket. Customers see only their own; another's is a 404. A service needs
/// `tickets:read`.
#[utoipa::path(
    get,
    path = "/v1/tickets/{ticket_id}",
    tag = "tickets",
    params(("ticket_id" = Uuid, Path)),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]),
        ("bearer" = ["service", "tickets:read"])),
    responses(
        (status = 200, body = TicketResponse),
        NotFound,
    )
)]
pub async fn get_ticket(
    caller: Principal,
    platform: web::Data<Platform>,
    path: web::Path<Uuid>,
) -> Result<web::Json<TicketResponse>, ApiError> {
    let id = TicketId::from(path.into_inner());
    match store::ticket(&platform.pool, id).await? {
        Some(t) if caller.may_read_customer(t.customer_id) => Ok(web::Json(t.into())),
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

/// List tickets, newest first. Customers see their own; the desk and services (`tickets:read`)
/// filter by anything.
#[utoipa::path(get, path = "/v1/tickets", tag = "tickets", params(TicketListQuery),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]),
        ("bearer" = ["service", "tickets:read"])),
    responses((status = 200, body = TicketListResponse), Unprocessable))]
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
    let customer_id = if caller.is_desk_or_service() {
        q.customer_id
    } else {
        Some(caller.subject)
    };
    let filter = store::TicketFilter {
        customer_id: customer_id.map(Into::into),
        status: q.status,
        category: q.category,
        channel: q.channel,
        incident_id: q.incident_id.map(Into::into),
    };
    Ok(web::Json(page_of(&platform, &filter, limit, after).await?))
}
