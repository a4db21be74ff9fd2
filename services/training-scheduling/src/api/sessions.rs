//! `/v1/sessions`.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use platform::ApiError;
use platform::auth::Principal;
use platform::idempotency::{self, Begun};
use platform::pagination::{self, PageQuery};
use platform::problems::{NotFound, Unprocessable};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::core::sessions::Sessions;
use crate::domain::session::NewSession;
use crate::store::SessionRow;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSessionRequest {
    /// `customer_training`, `staff_training` or `class`.
    pub kind: String,
    pub title: String,
    /// `online` or `on_site`.
    pub mode: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// IANA time zone the session is held in (`Asia/Shanghai`), for reminders and display.
    pub time_zone: String,
    pub capacity: i32,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionResponse {
    pub id: Uuid,
    pub kind: String,
    pub title: String,
    pub mode: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub time_zone: String,
    pub capacity: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<SessionRow> for SessionResponse {
    fn from(s: SessionRow) -> Self {
        Self {
            id: s.id,
            kind: s.kind,
            title: s.title,
            mode: s.mode,
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            time_zone: s.time_zone,
            capacity: s.capacity,
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

/// Schedule a session (supervisors, admins, trainers, services with `sessions:write`).
#[utoipa::path(
    post,
    path = "/v1/sessions",
    tag = "sessions",
    request_body = CreateSessionRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create return the first result")),
    security(("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["trainer"]), ("bearer" = ["service", "sessions:write"])),
    responses((status = 201, body = SessionResponse))
)]
pub async fn create_session(
    req: HttpRequest,
    caller: Principal,
    sessions: web::Data<Sessions>,
    body: web::Json<CreateSessionRequest>,
) -> Result<HttpResponse, ApiError> {
    let new = NewSession {
        kind: &body.kind,
        title: &body.title,
        mode: &body.mode,
        starts_at: body.starts_at,
        ends_at: body.ends_at,
        time_zone: &body.time_zone,
        capacity: body.capacity,
    };
    sessions.check(&new)?;
    let scope = format!("sessions:{}", caller.subject);
    let mut work = match idempotency::begin(&sessions.platform().pool, &req, &scope, &*body).await? {
        Begun::Fresh(work) => work,
        Begun::Replay(first) => return Ok(first),
    };
    let response = SessionResponse::from(sessions.schedule(&mut work.tx, &caller, &new).await?);
    work.finish(StatusCode::CREATED, &response).await?.commit().await?;
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, format!("/v1/sessions/{}", response.id)))
        .json(response))
}

/// Read a session.
#[utoipa::path(get, path = "/v1/sessions/{session_id}", tag = "sessions", params(("session_id" = Uuid, Path)),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["staff"]), ("bearer" = ["service", "sessions:read"])),
    responses((status = 200, body = SessionResponse), NotFound))]
pub async fn get_session(
    sessions: web::Data<Sessions>,
    path: web::Path<Uuid>,
) -> Result<web::Json<SessionResponse>, ApiError> {
    Ok(web::Json(sessions.read(path.into_inner()).await?.into()))
}

/// Upcoming sessions, earliest first.
#[utoipa::path(get, path = "/v1/sessions", tag = "sessions", params(PageQuery),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["staff"]), ("bearer" = ["service", "sessions:read"])),
    responses((status = 200, body = SessionListResponse), Unprocessable))]
pub async fn list_sessions(
    sessions: web::Data<Sessions>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<SessionListResponse>, ApiError> {
    let (limit, after) = page.resolve(100)?;
    let rows = sessions.upcoming(after, limit).await?;
    let next_cursor = pagination::next_cursor(&rows, limit, |s| (s.starts_at, s.id));
    Ok(web::Json(SessionListResponse {
        items: rows.into_iter().map(SessionResponse::from).collect(),
        next_cursor,
    }))
}
