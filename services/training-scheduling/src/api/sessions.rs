//! `/v1/sessions`: finding sessions, moving and cancelling one occurrence, and their log.

use actix_web::http::StatusCode;
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

use crate::core::sessions::Move;
use crate::core::{Scheduling, is_customer_only};
use crate::domain::offering::{STAFF_TRAINING, instant};
use crate::store::sessions::{ChangeRow, Filter, SessionRow};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionResponse {
    pub id: Uuid,
    /// The class or training it belongs to.
    pub offering_id: Uuid,
    /// 1, 2, 3… in the schedule's order.
    pub occurrence: i32,
    /// `class`, `customer_training` or `staff_training`.
    pub kind: String,
    pub title: String,
    /// `online` or `on_site`.
    pub mode: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Where the schedule put it (differs from `starts_at` once moved).
    pub original_starts_at: DateTime<Utc>,
    /// `starts_at` in the session's time zone, with its offset (`2030-03-04T18:00:00-05:00`).
    pub local_starts_at: String,
    pub time_zone: String,
    /// Seats of this session (a training's); a class's seats are the class's.
    pub capacity: i32,
    pub seats_taken: i32,
    /// Waitlist positions handed out so far.
    pub waitlist_issued: i32,
    /// `scheduled` or `cancelled`.
    pub status: String,
    /// The revision: 0, then +1 on every move or cancellation (the calendar's SEQUENCE).
    pub sequence: i32,
    pub trainer_id: Option<Uuid>,
    pub room: Option<String>,
    pub meeting_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<SessionRow> for SessionResponse {
    fn from(s: SessionRow) -> Self {
        let local_starts_at = s
            .time_zone
            .parse::<chrono_tz::Tz>()
            .map(|tz| s.starts_at.with_timezone(&tz).to_rfc3339())
            .unwrap_or_else(|_| s.starts_at.to_rfc3339());
        Self {
            id: s.id,
            offering_id: s.offering_id,
            occurrence: s.occurrence,
            kind: s.kind,
            title: s.title,
            mode: s.mode,
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            original_starts_at: s.original_starts_at,
            local_starts_at,
            time_zone: s.time_zone,
            capacity: s.capacity,
            seats_taken: s.seats_taken,
            waitlist_issued: s.waitlist_issued,
            status: s.status,
            sequence: s.sequence,
            trainer_id: s.trainer_id,
            room: s.room,
            meeting_url: s.meeting_url,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionListResponse {
    pub items: Vec<SessionResponse>,
    pub next_cursor: Option<String>,
}

/// Customers do not see staff trainings.
fn visible(caller: &Principal, kind: &str) -> bool {
    kind != STAFF_TRAINING || !is_customer_only(caller)
}

/// Read a session.
#[utoipa::path(get, path = "/v1/sessions/{session_id}", tag = "sessions", params(("session_id" = Uuid, Path)),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["staff"]), ("bearer" = ["service", "sessions:read"])),
    responses((status = 200, body = SessionResponse), NotFound))]
pub async fn get_session(
    caller: Principal,
    scheduling: web::Data<Scheduling>,
    path: web::Path<Uuid>,
) -> Result<web::Json<SessionResponse>, ApiError> {
    let s = scheduling.session(path.into_inner()).await?;
    if !visible(&caller, &s.kind) {
        return Err(ApiError::not_found("session"));
    }
    Ok(web::Json(s.into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionQuery {
    /// `class`, `customer_training` or `staff_training`.
    pub kind: Option<String>,
    /// Sessions of one class or training.
    pub offering_id: Option<Uuid>,
    /// Sessions one trainer teaches.
    pub trainer_id: Option<Uuid>,
    /// Starting at or after (RFC 3339 with offset; default now).
    pub from: Option<String>,
    /// Starting before (RFC 3339 with offset).
    pub to: Option<String>,
    /// Items per page (default 20, at most 100).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Sessions from now on (or from `from`), earliest first, cancelled ones included.
#[utoipa::path(get, path = "/v1/sessions", tag = "sessions", params(SessionQuery),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["staff"]), ("bearer" = ["service", "sessions:read"])),
    responses((status = 200, body = SessionListResponse), Unprocessable))]
pub async fn list_sessions(
    caller: Principal,
    scheduling: web::Data<Scheduling>,
    query: web::Query<SessionQuery>,
) -> Result<web::Json<SessionListResponse>, ApiError> {
    let q = query.into_inner();
    let (limit, after) = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .resolve(100)?;
    let mut v = platform::error::Validator::new();
    if let Some(kind) = &q.kind {
        v.one_of(kind, &["class", "customer_training", "staff_training"], "kind");
    }
    let from = q.from.as_deref().and_then(|f| instant(&mut v, f, "from"));
    let to = q.to.as_deref().and_then(|t| instant(&mut v, t, "to"));
    v.finish()?;
    let filter = Filter {
        kind: q.kind,
        offering_id: q.offering_id,
        trainer_id: q.trainer_id,
        from,
        to,
    };
    let rows = scheduling.sessions(&filter, after, limit).await?;
    let next_cursor = pagination::next_cursor(&rows, limit, |s| (s.starts_at, s.id));
    Ok(web::Json(SessionListResponse {
        items: rows
            .into_iter()
            .filter(|s| visible(&caller, &s.kind))
            .map(SessionResponse::from)
            .collect(),
        next_cursor,
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleRequest {
    /// The new start, RFC 3339 with its offset.
    #[schema(example = "2030-03-11T19:00:00+08:00")]
    pub starts_at: String,
    #[schema(example = "2030-03-11T20:30:00+08:00")]
    pub ends_at: String,
    #[schema(example = "老师出差,改期一天")]
    pub reason: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    #[schema(example = "场地维修")]
    pub reason: String,
}

/// Move one session (one occurrence of a series) to another time.
///
/// Checked like a new session (a future time with its zone offset, at most the longest
/// session); the trainer or room already booked at an overlapping time is a 409
/// (`trainer_double_booked`, `room_double_booked`), as are a cancelled session
/// (`session_cancelled`) and one that has started (`session_started`). The move is logged with
/// its reason and actor, the revision (`sequence`) goes up, calendar feeds show it as a moved
/// occurrence, and `training.session.rescheduled` tells the attendees and their guardians.
/// A trainer who is nothing more moves only the sessions they teach (others: 404).
#[utoipa::path(post, path = "/v1/sessions/{session_id}/reschedule", tag = "sessions", params(("session_id" = Uuid, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried request return the first result")),
    request_body = RescheduleRequest,
    security(("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["class_advisor"]), ("bearer" = ["trainer"]), ("bearer" = ["service", "sessions:write"])),
    responses((status = 200, body = SessionResponse), NotFound, Conflict))]
pub async fn reschedule_session(
    req: HttpRequest,
    caller: Principal,
    scheduling: web::Data<Scheduling>,
    path: web::Path<Uuid>,
    body: web::Json<RescheduleRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let to = scheduling.check_move(&Move {
        starts_at: &body.starts_at,
        ends_at: &body.ends_at,
        reason: &body.reason,
    })?;
    let scope = format!("reschedule:{}:{id}", caller.subject);
    let mut work = match idempotency::begin(&scheduling.platform.pool, &req, &scope, &*body).await? {
        Begun::Fresh(work) => work,
        Begun::Replay(first) => return Ok(first),
    };
    let moved = scheduling
        .reschedule(&mut work.tx, &caller, id, to, &body.reason)
        .await?;
    let response = SessionResponse::from(moved);
    let tx = work.finish(StatusCode::OK, &response).await?;
    scheduling.platform.outbox.commit(tx).await?;
    Ok(HttpResponse::Ok().json(response))
}

/// Cancel one session.
///
/// Its registrations stay (calendar feeds show it `STATUS:CANCELLED`);
/// `training.session.cancelled` tells registrants (waiting ones too) or the class's students,
/// and their guardians. 409 when already cancelled or started.
#[utoipa::path(post, path = "/v1/sessions/{session_id}/cancel", tag = "sessions", params(("session_id" = Uuid, Path)),
    request_body = CancelRequest,
    security(("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["class_advisor"]), ("bearer" = ["trainer"]), ("bearer" = ["service", "sessions:write"])),
    responses((status = 200, body = SessionResponse), NotFound, Conflict))]
pub async fn cancel_session(
    caller: Principal,
    scheduling: web::Data<Scheduling>,
    path: web::Path<Uuid>,
    body: web::Json<CancelRequest>,
) -> Result<web::Json<SessionResponse>, ApiError> {
    scheduling.check_reason(&body.reason)?;
    let mut tx = scheduling.platform.pool.begin().await?;
    let s = scheduling
        .cancel_session(&mut tx, &caller, path.into_inner(), &body.reason)
        .await?;
    scheduling.platform.outbox.commit(tx).await?;
    Ok(web::Json(s.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionChangeResponse {
    /// `rescheduled` or `cancelled`.
    pub action: String,
    pub previous_starts_at: DateTime<Utc>,
    pub previous_ends_at: DateTime<Utc>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub reason: String,
    pub actor_id: Option<Uuid>,
    pub at: DateTime<Utc>,
}

impl From<ChangeRow> for SessionChangeResponse {
    fn from(c: ChangeRow) -> Self {
        Self {
            action: c.action,
            previous_starts_at: c.previous_starts_at,
            previous_ends_at: c.previous_ends_at,
            starts_at: c.starts_at,
            ends_at: c.ends_at,
            reason: c.reason,
            actor_id: c.actor_id,
            at: c.at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionChangesResponse {
    pub items: Vec<SessionChangeResponse>,
}

/// A session's moves and cancellation, oldest first, with reasons and actors.
#[utoipa::path(get, path = "/v1/sessions/{session_id}/changes", tag = "sessions", params(("session_id" = Uuid, Path)),
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["staff"]), ("bearer" = ["service", "sessions:read"])),
    responses((status = 200, body = SessionChangesResponse), NotFound))]
pub async fn list_session_changes(
    scheduling: web::Data<Scheduling>,
    path: web::Path<Uuid>,
) -> Result<web::Json<SessionChangesResponse>, ApiError> {
    let id = path.into_inner();
    scheduling.session(id).await?;
    let items = scheduling.session_changes(id).await?;
    Ok(web::Json(SessionChangesResponse {
        items: items.into_iter().map(Into::into).collect(),
    }))
}
