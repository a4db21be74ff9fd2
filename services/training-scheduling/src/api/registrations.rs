//! `/v1/sessions/{id}/registrations` and `/v1/registrations`: seats, the waitlist,
//! cancellations and moves.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use platform::ApiError;
use platform::auth::Principal;
use platform::idempotency::{self, Begun};
use platform::pagination::{self, PageQuery};
use platform::problems::{Conflict, NotFound, Unprocessable};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::core::Scheduling;
use crate::core::registrations::{NewRegistration, Outcome};
use crate::domain::registration::Status;
use crate::store::registrations::{Filter, RegistrationRow};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRegistrationRequest {
    /// Who takes the seat: default the caller. A parent registers their child by naming the
    /// child and listing themselves among `guardian_ids`; the desk, class advisors, the front
    /// desk and services register anyone.
    #[serde(default)]
    pub participant_id: Option<Uuid>,
    /// The participant's guardians (parents), as customer ids: told of every change too.
    #[serde(default)]
    pub guardian_ids: Vec<Uuid>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RegistrationResponse {
    pub id: Uuid,
    pub session_id: Uuid,
    /// The training.
    pub offering_id: Uuid,
    pub participant_id: Uuid,
    /// `customer` or `staff`.
    pub participant_kind: String,
    pub guardian_ids: Vec<Uuid>,
    pub status: Status,
    /// The place in the waitlist's order (1, 2, 3… as admitted to it); kept once promoted.
    pub waitlist_position: Option<i32>,
    pub registered_by: Uuid,
    pub promoted_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancelled_by: Option<Uuid>,
    pub cancel_reason: Option<String>,
    /// The registration that replaced this one when it moved to another session.
    pub rescheduled_to: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<RegistrationRow> for RegistrationResponse {
    fn from(r: RegistrationRow) -> Self {
        Self {
            id: r.id,
            session_id: r.session_id,
            offering_id: r.offering_id,
            participant_id: r.participant_id,
            participant_kind: r.participant_kind,
            guardian_ids: r.guardian_ids,
            status: r.status,
            waitlist_position: r.waitlist_position,
            registered_by: r.registered_by,
            promoted_at: r.promoted_at,
            cancelled_at: r.cancelled_at,
            cancelled_by: r.cancelled_by,
            cancel_reason: r.cancel_reason,
            rescheduled_to: r.rescheduled_to,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationOutcomeResponse {
    pub registration: RegistrationResponse,
    /// Registrations promoted from the waitlist into the seat this step freed.
    pub promoted: Vec<RegistrationResponse>,
}

impl From<Outcome> for RegistrationOutcomeResponse {
    fn from(o: Outcome) -> Self {
        Self {
            registration: o.registration.into(),
            promoted: o.promoted.into_iter().map(Into::into).collect(),
        }
    }
}

/// Register for a training session.
///
/// A seat while one is free (`confirmed`), else the next waitlist position (`waitlisted`):
/// positions are taken from the session's counter in the registering transaction under the
/// session's lock, so they have no gap or duplicate however many register at once. A class's
/// sessions are not registered for: a student not enrolled is 422 `not_enrolled`, an enrolled
/// one 409 `already_enrolled`. 409 also for a second registration of the participant
/// (`already_registered`) and a cancelled or started session (`session_cancelled`,
/// `session_started`); a training for the other audience is 422 `not_for_participant`.
/// Publishes `training.registration.confirmed` or `.waitlisted`.
#[utoipa::path(post, path = "/v1/sessions/{session_id}/registrations", tag = "registrations",
    params(("session_id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried registration return the first result")),
    request_body = CreateRegistrationRequest,
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["staff"]), ("bearer" = ["service", "registrations:write"])),
    responses((status = 201, body = RegistrationResponse), NotFound, Conflict))]
pub async fn create_registration(
    req: HttpRequest,
    caller: Principal,
    scheduling: web::Data<Scheduling>,
    path: web::Path<Uuid>,
    body: web::Json<CreateRegistrationRequest>,
) -> Result<HttpResponse, ApiError> {
    let session_id = path.into_inner();
    let new = NewRegistration {
        participant_id: body.participant_id,
        guardian_ids: &body.guardian_ids,
    };
    scheduling.check_registration(&caller, &new)?;
    let scope = format!("registrations:{}:{session_id}", caller.subject);
    let mut work = match idempotency::begin(&scheduling.platform.pool, &req, &scope, &*body).await? {
        Begun::Fresh(work) => work,
        Begun::Replay(first) => return Ok(first),
    };
    let outcome = scheduling.register(&mut work.tx, &caller, session_id, &new).await?;
    let response = RegistrationResponse::from(outcome.registration);
    let tx = work.finish(StatusCode::CREATED, &response).await?;
    scheduling.platform.outbox.commit(tx).await?;
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, format!("/v1/registrations/{}", response.id)))
        .json(response))
}

/// Read a registration: the participant's or a guardian's own (others: 404); the desk, class
/// advisors, the front desk and services read any.
#[utoipa::path(get, path = "/v1/registrations/{registration_id}", tag = "registrations", params(("registration_id" = Uuid, Path)),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["staff"]), ("bearer" = ["service", "registrations:read"])),
    responses((status = 200, body = RegistrationResponse), NotFound))]
pub async fn get_registration(
    caller: Principal,
    scheduling: web::Data<Scheduling>,
    path: web::Path<Uuid>,
) -> Result<web::Json<RegistrationResponse>, ApiError> {
    Ok(web::Json(
        scheduling.registration(&caller, path.into_inner()).await?.into(),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegistrationQuery {
    pub session_id: Option<Uuid>,
    pub participant_id: Option<Uuid>,
    /// `confirmed`, `waitlisted` or `cancelled`.
    pub status: Option<Status>,
    /// Items per page (default 20, at most 200).
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationListResponse {
    pub items: Vec<RegistrationResponse>,
    pub next_cursor: Option<String>,
}

/// Registrations in admission order (a session's waitlist: `?session_id=…&status=waitlisted`).
/// Customers and staff acting for themselves see only their own (as participant or guardian).
#[utoipa::path(get, path = "/v1/registrations", tag = "registrations", params(RegistrationQuery),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["staff"]), ("bearer" = ["service", "registrations:read"])),
    responses((status = 200, body = RegistrationListResponse), Unprocessable))]
pub async fn list_registrations(
    caller: Principal,
    scheduling: web::Data<Scheduling>,
    query: web::Query<RegistrationQuery>,
) -> Result<web::Json<RegistrationListResponse>, ApiError> {
    let q = query.into_inner();
    let (limit, after) = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .resolve(200)?;
    let filter = Filter {
        session_id: q.session_id,
        participant_id: q.participant_id,
        concerning: None,
        status: q.status,
    };
    let rows = scheduling.registrations(&caller, filter, after, limit).await?;
    let next_cursor = pagination::next_cursor(&rows, limit, |r| (r.created_at, r.id));
    Ok(web::Json(RegistrationListResponse {
        items: rows.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRegistrationRequest {
    #[schema(example = "时间冲突")]
    pub reason: String,
}

/// Cancel a registration (before its session starts), with the reason.
///
/// A seat it held goes at once to the waitlisted registration with the lowest position
/// (`promoted` in the answer; `training.registration.promoted`). 409 when already cancelled
/// (`already_cancelled`) or the session has started.
#[utoipa::path(post, path = "/v1/registrations/{registration_id}/cancel", tag = "registrations", params(("registration_id" = Uuid, Path)),
    request_body = CancelRegistrationRequest,
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["staff"]), ("bearer" = ["service", "registrations:write"])),
    responses((status = 200, body = RegistrationOutcomeResponse), NotFound, Conflict))]
pub async fn cancel_registration(
    caller: Principal,
    scheduling: web::Data<Scheduling>,
    path: web::Path<Uuid>,
    body: web::Json<CancelRegistrationRequest>,
) -> Result<web::Json<RegistrationOutcomeResponse>, ApiError> {
    scheduling.check_registration_reason(&body.reason)?;
    let mut tx = scheduling.platform.pool.begin().await?;
    let outcome = scheduling
        .cancel_registration(&mut tx, &caller, path.into_inner(), &body.reason)
        .await?;
    scheduling.platform.outbox.commit(tx).await?;
    Ok(web::Json(outcome.into()))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveRegistrationRequest {
    /// Another session of the same training.
    pub session_id: Uuid,
    #[schema(example = "改到下周同一时间")]
    pub reason: String,
}

/// Move a registration to another session of the same training.
///
/// One transaction: the old seat (or place) is cancelled with the reason (its seat goes to the
/// old session's waitlist), and the new session gives a seat or its next waitlist position.
/// Answers with the new registration; the old one names it in `rescheduled_to`.
#[utoipa::path(post, path = "/v1/registrations/{registration_id}/move", tag = "registrations", params(("registration_id" = Uuid, Path)),
    request_body = MoveRegistrationRequest,
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["staff"]), ("bearer" = ["service", "registrations:write"])),
    responses((status = 200, body = RegistrationOutcomeResponse), NotFound, Conflict))]
pub async fn move_registration(
    caller: Principal,
    scheduling: web::Data<Scheduling>,
    path: web::Path<Uuid>,
    body: web::Json<MoveRegistrationRequest>,
) -> Result<web::Json<RegistrationOutcomeResponse>, ApiError> {
    scheduling.check_registration_reason(&body.reason)?;
    let mut tx = scheduling.platform.pool.begin().await?;
    let outcome = scheduling
        .move_registration(&mut tx, &caller, path.into_inner(), body.session_id, &body.reason)
        .await?;
    scheduling.platform.outbox.commit(tx).await?;
    Ok(web::Json(outcome.into()))
}
