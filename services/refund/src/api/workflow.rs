//! `/v1/refund-requests/{id}/…`: review, approve, reject, cancel, and the audit trail.

use actix_web::web;
use chrono::{DateTime, Utc};
use platform::ApiError;
use platform::auth::Principal;
use platform::error::Problem;
use platform::problems::NotFound;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::requests::RefundRequestResponse;
use crate::core::Refunds;
use crate::core::workflow::Move;
use crate::domain::workflow::Status;
use crate::store::audit::AuditRow;

async fn apply(
    caller: &Principal,
    refunds: &Refunds,
    id: Uuid,
    mv: Move<'_>,
) -> Result<web::Json<RefundRequestResponse>, ApiError> {
    Ok(web::Json(refunds.act(caller, id, mv).await?.into()))
}

/// Take a request for review (an agent, supervisor or admin): `requested` → `under_review`,
/// recording the reviewer, who may then no longer approve it (four eyes).
#[utoipa::path(post, path = "/v1/refund-requests/{request_id}/review", tag = "workflow",
    params(("request_id" = Uuid, Path)),
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"])),
    responses(
        (status = 200, body = RefundRequestResponse),
        NotFound,
        (status = 409, description = "Not a move its status allows (`illegal_move`); nothing changed", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn review_refund_request(
    caller: Principal,
    refunds: web::Data<Refunds>,
    path: web::Path<Uuid>,
) -> Result<web::Json<RefundRequestResponse>, ApiError> {
    apply(&caller, &refunds, path.into_inner(), Move::Review).await
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    /// The amount approved, in minor units; default the amount asked for. At most what is left
    /// of the payment; above the quote it needs a supervisor.
    #[serde(default)]
    pub amount_minor: Option<i64>,
    #[serde(default)]
    pub note: Option<String>,
}

/// Approve a request (an agent, supervisor or admin) for the amount asked for or `amount_minor`.
///
/// A special case (an amount above the policy's quote, or the reason `other` outside the
/// cooling-off period) or an amount over `agent_max_minor` needs a supervisor or an admin
/// (403 `supervisor_required`); whoever filed or reviewed the request cannot approve it (403
/// `four_eyes`). An amount above what is left of the payment is a 422.
#[utoipa::path(post, path = "/v1/refund-requests/{request_id}/approve", tag = "workflow",
    params(("request_id" = Uuid, Path)), request_body = ApproveRequest,
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"])),
    responses(
        (status = 200, body = RefundRequestResponse),
        (status = 403, description = "Not allowed: the caller's roles, `four_eyes` (the caller filed or reviewed it) or `supervisor_required`", body = Problem, content_type = "application/problem+json"),
        NotFound,
        (status = 409, description = "Not a move its status allows (`illegal_move`); nothing changed", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn approve_refund_request(
    caller: Principal,
    refunds: web::Data<Refunds>,
    path: web::Path<Uuid>,
    body: web::Json<ApproveRequest>,
) -> Result<web::Json<RefundRequestResponse>, ApiError> {
    let mv = Move::Approve {
        amount_minor: body.amount_minor,
        note: body.note.as_deref(),
    };
    apply(&caller, &refunds, path.into_inner(), mv).await
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// Why: told to the customer.
    pub note: String,
}

/// Reject a request, saying why (an agent, supervisor or admin).
#[utoipa::path(post, path = "/v1/refund-requests/{request_id}/reject", tag = "workflow",
    params(("request_id" = Uuid, Path)), request_body = RejectRequest,
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"])),
    responses(
        (status = 200, body = RefundRequestResponse),
        NotFound,
        (status = 409, description = "Not a move its status allows (`illegal_move`); nothing changed", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn reject_refund_request(
    caller: Principal,
    refunds: web::Data<Refunds>,
    path: web::Path<Uuid>,
    body: web::Json<RejectRequest>,
) -> Result<web::Json<RefundRequestResponse>, ApiError> {
    apply(&caller, &refunds, path.into_inner(), Move::Reject { note: &body.note }).await
}

/// Withdraw a request before it is decided: its customer (another customer's is a 404), or
/// an agent, supervisor or admin.
#[utoipa::path(post, path = "/v1/refund-requests/{request_id}/cancel", tag = "workflow",
    params(("request_id" = Uuid, Path)),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"])),
    responses(
        (status = 200, body = RefundRequestResponse),
        NotFound,
        (status = 409, description = "Already decided (`illegal_move`); nothing changed", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn cancel_refund_request(
    caller: Principal,
    refunds: web::Data<Refunds>,
    path: web::Path<Uuid>,
) -> Result<web::Json<RefundRequestResponse>, ApiError> {
    apply(&caller, &refunds, path.into_inner(), Move::Cancel).await
}

/// One step of a request's life, as the audit trail keeps it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditEntryResponse {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// `submit`, `quote`, `review`, `approve`, `reject` or `cancel`.
    pub action: String,
    pub from_status: Option<Status>,
    pub to_status: Status,
    /// The amount of the step: asked for, quoted, approved.
    pub amount_minor: Option<i64>,
    pub currency: String,
    pub policy_version: i32,
    /// Null: the service itself (the quote, an automatic approval).
    pub actor_id: Option<Uuid>,
    pub actor_roles: Vec<String>,
    pub note: Option<String>,
}

impl From<AuditRow> for AuditEntryResponse {
    fn from(a: AuditRow) -> Self {
        Self {
            id: a.id,
            at: a.at,
            action: a.action,
            from_status: a.from_status,
            to_status: a.to_status,
            amount_minor: a.amount_minor,
            currency: a.currency,
            policy_version: a.policy_version,
            actor_id: a.actor_id,
            actor_roles: a.actor_roles,
            note: a.note,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditResponse {
    pub request_id: Uuid,
    /// Oldest first.
    pub items: Vec<AuditEntryResponse>,
}

/// A request's audit trail (the desk): every step with who (id and roles), when, why, the
/// statuses, the amount and the policy version. Append-only.
#[utoipa::path(get, path = "/v1/refund-requests/{request_id}/audit", tag = "workflow",
    params(("request_id" = Uuid, Path)),
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"])),
    responses((status = 200, body = AuditResponse), NotFound))]
pub async fn get_refund_audit(
    refunds: web::Data<Refunds>,
    path: web::Path<Uuid>,
) -> Result<web::Json<AuditResponse>, ApiError> {
    let id = path.into_inner();
    let items = refunds.audit_trail(id).await?;
    Ok(web::Json(AuditResponse {
        request_id: id,
        items: items.into_iter().map(Into::into).collect(),
    }))
}
