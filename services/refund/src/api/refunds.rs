//! `/v1/refunds`.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use contracts::CustomerId;
use platform::ApiError;
use platform::auth::Principal;
use platform::idempotency::{self, Begun};
use platform::problems::NotFound;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::core::refunds::Refunds;
use crate::domain::refund::NewRefund;
use crate::store::RefundRow;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRefundRequest {
    /// Required when staff or a service files for a customer.
    #[serde(default)]
    pub customer_id: Option<Uuid>,
    /// The enrolment (course purchase) to refund.
    pub enrolment_id: Uuid,
    /// Amount asked for, in minor units (fen for CNY).
    #[schema(example = 59900)]
    pub amount_minor: i64,
    #[schema(example = "CNY")]
    pub currency: String,
    /// `course_quality`, `teacher`, `schedule` or `other`.
    pub reason: String,
    #[serde(default)]
    pub detail: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RefundResponse {
    pub id: Uuid,
    pub customer_id: CustomerId,
    pub enrolment_id: Uuid,
    pub amount_minor: i64,
    pub currency: String,
    pub reason: String,
    pub detail: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<RefundRow> for RefundResponse {
    fn from(r: RefundRow) -> Self {
        Self {
            id: r.id,
            customer_id: r.customer_id,
            enrolment_id: r.enrolment_id,
            amount_minor: r.amount_minor,
            currency: r.currency,
            reason: r.reason,
            detail: r.detail,
            status: r.status,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// File a refund request.
#[utoipa::path(
    post,
    path = "/v1/refunds",
    tag = "refunds",
    request_body = CreateRefundRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create return the first result")),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["service", "refunds:write"])),
    responses((status = 201, body = RefundResponse))
)]
pub async fn create_refund(
    req: HttpRequest,
    caller: Principal,
    refunds: web::Data<Refunds>,
    body: web::Json<CreateRefundRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = NewRefund {
        customer_id: body.customer_id,
        enrolment_id: body.enrolment_id,
        amount_minor: body.amount_minor,
        currency: &body.currency,
        reason: &body.reason,
        detail: &body.detail,
    };
    let scope = format!("refunds:{}", caller.subject);
    let mut work = match idempotency::begin(&refunds.platform().pool, &req, &scope, &*body).await? {
        Begun::Fresh(work) => work,
        Begun::Replay(first) => return Ok(first),
    };
    let response = RefundResponse::from(refunds.file(&mut work.tx, &caller, &request).await?);
    work.finish(StatusCode::CREATED, &response).await?.commit().await?;
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, format!("/v1/refunds/{}", response.id)))
        .json(response))
}

/// Read a refund request. Customers see only their own.
#[utoipa::path(get, path = "/v1/refunds/{refund_id}", tag = "refunds", params(("refund_id" = Uuid, Path)),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["service", "refunds:read"])),
    responses((status = 200, body = RefundResponse), NotFound))]
pub async fn get_refund(
    caller: Principal,
    refunds: web::Data<Refunds>,
    path: web::Path<Uuid>,
) -> Result<web::Json<RefundResponse>, ApiError> {
    Ok(web::Json(refunds.read(&caller, path.into_inner()).await?.into()))
}
