//! `/v1/enrolments/{enrolment_id}` and a class's roster: class membership from the company's
//! systems.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use platform::ApiError;
use platform::auth::Principal;
use platform::problems::{Conflict, NotFound};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::core::Scheduling;
use crate::core::enrolments::EnrolmentPut;
use crate::domain::offering::CLASS;
use crate::store::enrolments::EnrolmentRow;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentRequest {
    /// The class: its id, or its code as the company's systems name it (`math-101-a`).
    #[schema(example = "math-101-a")]
    pub class_id: String,
    /// The student.
    pub customer_id: Uuid,
    /// The student's guardians (parents), as customer ids.
    #[serde(default)]
    pub guardian_ids: Vec<Uuid>,
    /// `active` (default) or `withdrawn` (frees the seat).
    #[serde(default = "active")]
    pub status: String,
}

fn active() -> String {
    "active".to_owned()
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnrolmentResponse {
    /// The company's enrolment id (the one refund's records carry).
    pub id: Uuid,
    pub class_id: Uuid,
    pub customer_id: Uuid,
    pub guardian_ids: Vec<Uuid>,
    /// `active` or `withdrawn`.
    pub status: String,
    /// The class it was last transferred from, and the refund request that decided it.
    pub transferred_from: Option<Uuid>,
    pub transfer_request_id: Option<Uuid>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<EnrolmentRow> for EnrolmentResponse {
    fn from(e: EnrolmentRow) -> Self {
        Self {
            id: e.id,
            class_id: e.class_id,
            customer_id: e.customer_id,
            guardian_ids: e.guardian_ids,
            status: e.status,
            transferred_from: e.transferred_from,
            transfer_request_id: e.transfer_request_id,
            version: e.version,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// Record a student's enrolment in a class (the company's systems; 201 new, 200 replaced).
///
/// The student takes one of the class's seats and follows its sessions (their calendar feed
/// shows them); `withdrawn` frees the seat; naming another class moves the seat there and
/// publishes `training.enrolment.transferred`. A full class is 409 `class_full`, an unknown
/// class 422 on `class_id`, another customer under the same enrolment id 409
/// `customer_locked`.
#[utoipa::path(put, path = "/v1/enrolments/{enrolment_id}", tag = "enrolments", params(("enrolment_id" = Uuid, Path)),
    request_body = EnrolmentRequest,
    security(("bearer" = ["admin"]), ("bearer" = ["service", "enrolments:write"])),
    responses((status = 201, body = EnrolmentResponse), (status = 200, body = EnrolmentResponse), Conflict))]
pub async fn put_enrolment(
    scheduling: web::Data<Scheduling>,
    path: web::Path<Uuid>,
    body: web::Json<EnrolmentRequest>,
) -> Result<HttpResponse, ApiError> {
    let put = EnrolmentPut {
        class_id: &body.class_id,
        customer_id: body.customer_id,
        guardian_ids: &body.guardian_ids,
        status: &body.status,
    };
    scheduling.check_enrolment(&put)?;
    let mut tx = scheduling.platform.pool.begin().await?;
    let done = scheduling.put_enrolment(&mut tx, path.into_inner(), &put).await?;
    scheduling.platform.outbox.commit(tx).await?;
    let response = EnrolmentResponse::from(done.enrolment);
    Ok(if done.created {
        HttpResponse::Created().json(response)
    } else {
        HttpResponse::Ok().json(response)
    })
}

/// Read an enrolment: the student's or a guardian's own (others: 404).
#[utoipa::path(get, path = "/v1/enrolments/{enrolment_id}", tag = "enrolments", params(("enrolment_id" = Uuid, Path)),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["class_advisor"]), ("bearer" = ["service", "enrolments:read"])),
    responses((status = 200, body = EnrolmentResponse), NotFound))]
pub async fn get_enrolment(
    caller: Principal,
    scheduling: web::Data<Scheduling>,
    path: web::Path<Uuid>,
) -> Result<web::Json<EnrolmentResponse>, ApiError> {
    Ok(web::Json(
        scheduling.enrolment(&caller, path.into_inner()).await?.into(),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RosterResponse {
    pub class_id: Uuid,
    pub capacity: i32,
    pub seats_taken: i32,
    /// Active enrolments, oldest first.
    pub items: Vec<EnrolmentResponse>,
}

/// A class's students (active enrolments).
#[utoipa::path(get, path = "/v1/classes/{class_id}/enrolments", tag = "enrolments", params(("class_id" = Uuid, Path)),
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["class_advisor"]), ("bearer" = ["trainer"]), ("bearer" = ["service", "enrolments:read"])),
    responses((status = 200, body = RosterResponse), NotFound))]
pub async fn list_class_enrolments(
    scheduling: web::Data<Scheduling>,
    path: web::Path<Uuid>,
) -> Result<web::Json<RosterResponse>, ApiError> {
    let (class, _) = scheduling.offering(path.into_inner(), &[CLASS]).await?;
    let items = scheduling.roster(class.id).await?;
    Ok(web::Json(RosterResponse {
        class_id: class.id,
        capacity: class.capacity,
        seats_taken: class.seats_taken,
        items: items.into_iter().map(Into::into).collect(),
    }))
}
