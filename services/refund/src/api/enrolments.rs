//! `/v1/enrolments`: what each customer bought and paid, fed by the company's systems.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use platform::ApiError;
use platform::auth::Principal;
use platform::error::Problem;
use platform::problems::NotFound;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::core::Refunds;
use crate::core::enrolments::EnrolmentView;
use crate::domain::enrolment::EnrolmentRecord;
use crate::domain::policy::Part;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnrolmentResponse {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub course_id: String,
    pub class_id: Option<String>,
    pub paid_minor: i64,
    pub currency: String,
    /// `alipay`, `wechat_pay`, `bank_transfer`, `cash` or `card`.
    pub channel: String,
    pub payment_reference: String,
    pub enrolled_at: DateTime<Utc>,
    pub total_sessions: i32,
    pub attended_sessions: i32,
    pub service_ends_at: Option<DateTime<Utc>>,
    pub non_refundable: Vec<Part>,
    pub discount_minor: i64,
    /// Approved so far (approved, payout pending or paid requests), in minor units.
    pub refunded_minor: i64,
    /// The request waiting for a decision, if any.
    pub open_request_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<EnrolmentView> for EnrolmentResponse {
    fn from(v: EnrolmentView) -> Self {
        let e = v.row;
        Self {
            id: e.id,
            customer_id: e.customer_id.into(),
            course_id: e.course_id,
            class_id: e.class_id,
            paid_minor: e.paid_minor,
            currency: e.currency,
            channel: e.channel.as_str().to_owned(),
            payment_reference: e.payment_reference,
            enrolled_at: e.enrolled_at,
            total_sessions: e.total_sessions,
            attended_sessions: e.attended_sessions,
            service_ends_at: e.service_ends_at,
            non_refundable: e.non_refundable,
            discount_minor: e.discount_minor,
            refunded_minor: v.refunds.refunded_minor,
            open_request_id: v.refunds.open_request_id,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// Create or replace an enrolment and its payment (an admin, or the company's systems: a
/// service with `enrolments:write`).
///
/// The record is replaced whole. Once refunds are filed against the enrolment its currency
/// (`currency_locked`) and customer (`customer_locked`) stay, and `paid_minor` cannot drop below
/// what was refunded (`paid_below_refunded`): 409.
#[utoipa::path(put, path = "/v1/enrolments/{enrolment_id}", tag = "enrolments", params(("enrolment_id" = Uuid, Path)),
    request_body = EnrolmentRecord,
    security(("bearer" = ["admin"]), ("bearer" = ["service", "enrolments:write"])),
    responses(
        (status = 201, description = "Created", body = EnrolmentResponse),
        (status = 200, description = "Replaced", body = EnrolmentResponse),
        (status = 409, description = "The change would contradict the refunds filed against it", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn put_enrolment(
    refunds: web::Data<Refunds>,
    path: web::Path<Uuid>,
    body: web::Json<EnrolmentRecord>,
) -> Result<HttpResponse, ApiError> {
    let (view, created) = refunds.put_enrolment(path.into_inner(), body.into_inner()).await?;
    let body = EnrolmentResponse::from(view);
    Ok(if created {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

/// An enrolment with what was refunded so far and its open request: its customer (another
/// customer's is a 404), the desk, services with `enrolments:read`.
#[utoipa::path(get, path = "/v1/enrolments/{enrolment_id}", tag = "enrolments", params(("enrolment_id" = Uuid, Path)),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]),
        ("bearer" = ["service", "enrolments:read"])),
    responses((status = 200, body = EnrolmentResponse), NotFound))]
pub async fn get_enrolment(
    caller: Principal,
    refunds: web::Data<Refunds>,
    path: web::Path<Uuid>,
) -> Result<web::Json<EnrolmentResponse>, ApiError> {
    Ok(web::Json(refunds.enrolment(&caller, path.into_inner()).await?.into()))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttendanceRequest {
    /// Sessions attended so far.
    pub attended_sessions: i32,
}

/// Record the sessions attended (an admin, a trainer, or a service with `attendance:write`),
/// until training-scheduling publishes attendance events.
#[utoipa::path(put, path = "/v1/enrolments/{enrolment_id}/attendance", tag = "enrolments",
    params(("enrolment_id" = Uuid, Path)), request_body = AttendanceRequest,
    security(("bearer" = ["admin"]), ("bearer" = ["trainer"]), ("bearer" = ["service", "attendance:write"])),
    responses((status = 200, body = EnrolmentResponse), NotFound))]
pub async fn put_attendance(
    refunds: web::Data<Refunds>,
    path: web::Path<Uuid>,
    body: web::Json<AttendanceRequest>,
) -> Result<web::Json<EnrolmentResponse>, ApiError> {
    let view = refunds
        .set_attendance(path.into_inner(), body.attended_sessions)
        .await?;
    Ok(web::Json(view.into()))
}
