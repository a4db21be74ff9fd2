//! `/v1/refund-requests`: filing, reading and listing refund requests.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use contracts::TicketId;
use platform::ApiError;
use platform::auth::Principal;
use platform::error::{Problem, Validator};
use platform::idempotency::{self, Begun};
use platform::pagination::{PageQuery, next_cursor};
use platform::problems::{NotFound, Unprocessable};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::problem_with;
use crate::core::Refunds;
use crate::core::filing::{Filing, Refused};
use crate::domain::policy::{Line, Reason};
use crate::domain::request::{self, NewRequest};
use crate::domain::workflow::{Decider, Status};
use crate::store::requests::{Filter, RequestRow};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRefundRequest {
    /// The enrolment (course purchase) to refund: a customer's own.
    pub enrolment_id: Uuid,
    /// `course_quality`, `teacher`, `schedule`, `relocation`, `duplicate_charge` or `other`.
    #[schema(example = "schedule")]
    pub reason: String,
    #[serde(default)]
    #[schema(example = "上课时间和孩子的学校冲突")]
    pub comment: String,
    /// The support ticket the request came from.
    #[serde(default)]
    pub ticket_id: Option<Uuid>,
    /// A partial refund, in minor units; default the policy's quote. A customer asks for at
    /// most the quote; staff for at most what is left of the payment.
    #[serde(default)]
    pub amount_minor: Option<i64>,
    /// When given, must be the payment's currency.
    #[serde(default)]
    pub currency: Option<String>,
}

/// The policy's quote as stored at filing.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QuoteSnapshot {
    pub amount_minor: i64,
    pub currency: String,
    pub in_cooling_off: bool,
    pub policy_version: i32,
    /// Each step with its figures; their amounts add up to `amount_minor`.
    pub lines: Vec<Line>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RefundRequestResponse {
    pub id: Uuid,
    pub enrolment_id: Uuid,
    pub customer_id: Uuid,
    pub ticket_id: Option<Uuid>,
    pub reason: Reason,
    pub comment: String,
    pub status: Status,
    /// Asked for, in minor units.
    pub amount_minor: i64,
    pub currency: String,
    /// Set once approved.
    pub approved_minor: Option<i64>,
    pub quote: QuoteSnapshot,
    /// Who must decide, as judged at filing: `automatic`, `agent` or `supervisor`.
    pub decider: Decider,
    pub filed_by: Uuid,
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: Option<DateTime<Utc>>,
    /// Who approved or rejected it; null for an automatic approval.
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<RequestRow> for RefundRequestResponse {
    fn from(r: RequestRow) -> Self {
        Self {
            id: r.id,
            enrolment_id: r.enrolment_id,
            customer_id: r.customer_id.into(),
            ticket_id: r.ticket_id.map(Into::into),
            reason: r.reason,
            comment: r.comment,
            status: r.status,
            amount_minor: r.amount_minor,
            approved_minor: r.approved_minor,
            quote: QuoteSnapshot {
                amount_minor: r.quote_minor,
                currency: r.currency.clone(),
                in_cooling_off: r.in_cooling_off,
                policy_version: r.policy_version,
                lines: r.quote_lines,
            },
            currency: r.currency,
            decider: r.decider,
            filed_by: r.filed_by,
            reviewed_by: r.reviewed_by,
            reviewed_at: r.reviewed_at,
            decided_by: r.decided_by,
            decided_at: r.decided_at,
            decision_note: r.decision_note,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The 409 for an enrolment that already has a request waiting for a decision, naming it.
fn open_request_conflict(open: Uuid) -> HttpResponse {
    let err = ApiError::conflict(
        "open_request_exists",
        format!("the enrolment already has an open refund request ({open}): decide or cancel it first"),
    );
    problem_with(&err, &[("open_request_id", serde_json::json!(open))])
}

/// File a refund request.
///
/// A customer files for their own enrolment (another's, or an unknown one, is a 404); an
/// agent, supervisor or admin on a customer's behalf. The policy in force at enrolment quotes
/// the amount, which is stored with the request; the amount asked for defaults to the quote
/// (a customer may ask for less; staff for up to what is left of the payment, more than the
/// quote being a special case for a supervisor). Inside the cooling-off period and within
/// `auto_max_minor` the request is approved at once (`status: approved`). One open request per
/// enrolment: another is a 409 naming it (`open_request_id`). With an `Idempotency-Key`, a
/// retry returns the first response and files nothing new.
#[utoipa::path(
    post,
    path = "/v1/refund-requests",
    tag = "refund requests",
    request_body = CreateRefundRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create return the first result")),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"])),
    responses(
        (status = 201, description = "Filed (approved already when approved automatically)", body = RefundRequestResponse),
        NotFound,
        (status = 409, description = "The enrolment has an open request (`open_request_exists`, with `open_request_id`), or a request with this Idempotency-Key is still being processed", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_refund_request(
    req: HttpRequest,
    caller: Principal,
    refunds: web::Data<Refunds>,
    body: web::Json<CreateRefundRequest>,
) -> Result<HttpResponse, ApiError> {
    let valid = request::validate(&NewRequest {
        reason: &body.reason,
        comment: &body.comment,
        amount_minor: body.amount_minor,
        currency: body.currency.as_deref(),
    })?;
    let filing = Filing {
        enrolment_id: body.enrolment_id,
        ticket_id: body.ticket_id.map(TicketId::from),
        request: valid,
    };
    let platform = &refunds.platform;
    let scope = format!("refund-requests:{}", caller.subject);
    let mut work = match idempotency::begin(&platform.pool, &req, &scope, &*body).await? {
        Begun::Fresh(work) => work,
        Begun::Replay(first) => return Ok(first),
    };
    let row = match refunds.file(&mut work.tx, &caller, &filing).await {
        Ok(row) => row,
        Err(Refused::OpenRequest(open)) => return Ok(open_request_conflict(open)),
        Err(Refused::Other(e)) => return Err(e),
    };
    let response = RefundRequestResponse::from(row);
    let tx = work.finish(StatusCode::CREATED, &response).await?;
    platform.outbox.commit(tx).await?;
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, format!("/v1/refund-requests/{}", response.id)))
        .json(response))
}

/// A refund request: its customer (another customer's is a 404), the desk, services with
/// `refunds:read`.
#[utoipa::path(get, path = "/v1/refund-requests/{request_id}", tag = "refund requests",
    params(("request_id" = Uuid, Path)),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]),
        ("bearer" = ["service", "refunds:read"])),
    responses((status = 200, body = RefundRequestResponse), NotFound))]
pub async fn get_refund_request(
    caller: Principal,
    refunds: web::Data<Refunds>,
    path: web::Path<Uuid>,
) -> Result<web::Json<RefundRequestResponse>, ApiError> {
    Ok(web::Json(refunds.request(&caller, path.into_inner()).await?.into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `requested`, `under_review`, `approved`, `rejected`, `cancelled`, …
    pub status: Option<String>,
    pub enrolment_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    /// Items per page (default 20, at most 100).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RefundRequestListResponse {
    pub items: Vec<RefundRequestResponse>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// Refund requests, newest first: a customer's own only; the desk and services with
/// `refunds:read` any, narrowed by status, enrolment or customer.
#[utoipa::path(get, path = "/v1/refund-requests", tag = "refund requests", params(ListQuery),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]),
        ("bearer" = ["service", "refunds:read"])),
    responses((status = 200, body = RefundRequestListResponse), Unprocessable))]
pub async fn list_refund_requests(
    caller: Principal,
    refunds: web::Data<Refunds>,
    query: web::Query<ListQuery>,
) -> Result<web::Json<RefundRequestListResponse>, ApiError> {
    let q = query.into_inner();
    let mut v = Validator::new();
    let status = q.status.as_deref().map(Status::parse);
    let names: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
    v.check(
        status.is_none_or(|s| s.is_some()),
        "status",
        format!("must be one of {}", names.join(", ")),
    );
    v.finish()?;
    let (limit, after) = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .resolve(100)?;
    let filter = Filter {
        customer_id: q.customer_id,
        enrolment_id: q.enrolment_id,
        status: status.flatten(),
    };
    let rows = refunds.requests(&caller, filter, limit, after).await?;
    let next_cursor = next_cursor(&rows, limit, |r| (r.created_at, r.id));
    Ok(web::Json(RefundRequestListResponse {
        items: rows.into_iter().map(RefundRequestResponse::from).collect(),
        next_cursor,
    }))
}
