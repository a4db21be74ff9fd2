//! `/v1/courses`, `/v1/classes`, `/v1/trainings`: the catalogue and the schedules.

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
use utoipa::ToSchema;
use uuid::Uuid;

use super::sessions::SessionResponse;
use crate::core::catalog::ClassPart;
use crate::core::{Scheduling, is_customer_only};
use crate::domain::offering::{CLASS, NewOffering, TRAINING_KINDS};
use crate::store::offerings::{CourseRow, OfferingRow};
use crate::store::sessions::SessionRow;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCourseRequest {
    /// The company's key for the course, as refund's enrolments carry it.
    #[schema(example = "math-101")]
    pub code: String,
    #[schema(example = "初中数学提高班")]
    pub title: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CourseResponse {
    pub id: Uuid,
    pub code: String,
    pub title: String,
    pub description: String,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<CourseRow> for CourseResponse {
    fn from(c: CourseRow) -> Self {
        Self {
            id: c.id,
            code: c.code,
            title: c.title,
            description: c.description,
            created_by: c.created_by,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CourseListResponse {
    pub items: Vec<CourseResponse>,
    pub next_cursor: Option<String>,
}

const IDEMPOTENCY: &str = "Makes a retried create return the first result";

/// Create a course (the catalogue entry classes belong to). A code in use is 409 `code_taken`.
#[utoipa::path(post, path = "/v1/courses", tag = "catalogue", request_body = CreateCourseRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = IDEMPOTENCY)),
    security(("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["class_advisor"]), ("bearer" = ["service", "classes:write"])),
    responses((status = 201, body = CourseResponse), Conflict))]
pub async fn create_course(
    req: HttpRequest,
    caller: Principal,
    scheduling: web::Data<Scheduling>,
    body: web::Json<CreateCourseRequest>,
) -> Result<HttpResponse, ApiError> {
    scheduling.check_course(&body.code, &body.title, &body.description)?;
    let scope = format!("courses:{}", caller.subject);
    let mut work = match idempotency::begin(&scheduling.platform.pool, &req, &scope, &*body).await? {
        Begun::Fresh(work) => work,
        Begun::Replay(first) => return Ok(first),
    };
    let course = scheduling
        .create_course(&mut work.tx, &caller, &body.code, &body.title, &body.description)
        .await?;
    let response = CourseResponse::from(course);
    work.finish(StatusCode::CREATED, &response).await?.commit().await?;
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, format!("/v1/courses/{}", response.id)))
        .json(response))
}

/// Courses, oldest first.
#[utoipa::path(get, path = "/v1/courses", tag = "catalogue", params(PageQuery),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["staff"]), ("bearer" = ["service", "classes:read"])),
    responses((status = 200, body = CourseListResponse), Unprocessable))]
pub async fn list_courses(
    scheduling: web::Data<Scheduling>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<CourseListResponse>, ApiError> {
    let (limit, after) = page.resolve(100)?;
    let rows = crate::store::offerings::courses(&scheduling.platform.pool, after, limit).await?;
    let next_cursor = pagination::next_cursor(&rows, limit, |c| (c.created_at, c.id));
    Ok(web::Json(CourseListResponse {
        items: rows.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// Read a course.
#[utoipa::path(get, path = "/v1/courses/{course_id}", tag = "catalogue", params(("course_id" = Uuid, Path)),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["staff"]), ("bearer" = ["service", "classes:read"])),
    responses((status = 200, body = CourseResponse), NotFound))]
pub async fn get_course(
    scheduling: web::Data<Scheduling>,
    path: web::Path<Uuid>,
) -> Result<web::Json<CourseResponse>, ApiError> {
    Ok(web::Json(scheduling.course(path.into_inner()).await?.into()))
}

/// The schedule fields classes and trainings share.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateClassRequest {
    /// The company's key for the class (`math-101-a`): enrolments and refund's transfers name
    /// the class by it (or by its id).
    #[schema(example = "math-101-a")]
    pub code: String,
    #[schema(example = "初中数学提高班 A 班")]
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// `online` (with `meeting_url`) or `on_site` (with `room`).
    #[schema(example = "on_site")]
    pub mode: String,
    #[serde(default)]
    pub meeting_url: Option<String>,
    #[serde(default)]
    #[schema(example = "Room 301")]
    pub room: Option<String>,
    /// The teacher (a staff member's id); nobody teaches two sessions at once.
    #[serde(default)]
    pub trainer_id: Option<Uuid>,
    /// The class advisor (班主任).
    #[serde(default)]
    pub advisor_id: Option<Uuid>,
    /// Seats in the class.
    #[schema(example = 30)]
    pub capacity: i32,
    /// Students expected at each session for it to go ahead (informational).
    #[serde(default)]
    pub min_attendance: i32,
    /// IANA time zone the class is held in: the rule repeats in its local time.
    #[schema(example = "Asia/Shanghai")]
    pub time_zone: String,
    /// The first session's start, RFC 3339 with its offset.
    #[schema(example = "2030-03-04T18:00:00+08:00")]
    pub starts_at: String,
    /// The first session's end (every session lasts as long).
    #[schema(example = "2030-03-04T19:30:00+08:00")]
    pub ends_at: String,
    /// RFC 5545 RRULE value; must end (COUNT or UNTIL) within the service's maximum; the first
    /// occurrence must be `starts_at`. Absent: one session.
    #[serde(default)]
    #[schema(example = "FREQ=WEEKLY;BYDAY=MO;COUNT=14")]
    pub recurrence: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTrainingRequest {
    /// `customer_training` (how to use the platform, for customers) or `staff_training`.
    #[schema(example = "customer_training")]
    pub kind: String,
    #[schema(example = "平台使用培训")]
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Customer trainings: any of `students`, `parents`, `teachers`, `institutions`; staff
    /// trainings: `staff`.
    #[serde(default)]
    pub audience: Vec<String>,
    /// `online` (with `meeting_url`) or `on_site` (with `room`).
    #[schema(example = "online")]
    pub mode: String,
    #[serde(default)]
    #[schema(example = "https://meeting.example.com/j/123456")]
    pub meeting_url: Option<String>,
    #[serde(default)]
    pub room: Option<String>,
    #[serde(default)]
    pub trainer_id: Option<Uuid>,
    /// Seats per session; more registrations wait in the waitlist.
    #[schema(example = 60)]
    pub capacity: i32,
    /// Participants expected for a session to go ahead (informational).
    #[serde(default)]
    pub min_attendance: i32,
    #[schema(example = "Asia/Shanghai")]
    pub time_zone: String,
    #[schema(example = "2030-03-05T19:00:00+08:00")]
    pub starts_at: String,
    #[schema(example = "2030-03-05T20:30:00+08:00")]
    pub ends_at: String,
    /// RFC 5545 RRULE value (see classes). Absent: one session.
    #[serde(default)]
    #[schema(example = "FREQ=WEEKLY;COUNT=6")]
    pub recurrence: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OfferingResponse {
    pub id: Uuid,
    /// `class`, `customer_training` or `staff_training`.
    pub kind: String,
    /// Classes: their course.
    pub course_id: Option<Uuid>,
    /// Classes: their key.
    pub code: Option<String>,
    pub title: String,
    pub description: String,
    pub audience: Vec<String>,
    pub mode: String,
    pub meeting_url: Option<String>,
    pub room: Option<String>,
    pub trainer_id: Option<Uuid>,
    pub advisor_id: Option<Uuid>,
    /// Seats per session (trainings) or in the class.
    pub capacity: i32,
    pub min_attendance: i32,
    /// Classes: students enrolled (may exceed `capacity` after transfers decided in refund).
    pub seats_taken: i32,
    pub time_zone: String,
    /// The RRULE, as normalized; null for a single session.
    pub recurrence: Option<String>,
    pub duration_minutes: i32,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Every session, in the schedule's order.
    pub sessions: Vec<SessionResponse>,
}

fn offering_response(o: OfferingRow, sessions: Vec<SessionRow>) -> OfferingResponse {
    OfferingResponse {
        id: o.id,
        kind: o.kind,
        course_id: o.course_id,
        code: o.code,
        title: o.title,
        description: o.description,
        audience: o.audience,
        mode: o.mode,
        meeting_url: o.meeting_url,
        room: o.room,
        trainer_id: o.trainer_id,
        advisor_id: o.advisor_id,
        capacity: o.capacity,
        min_attendance: o.min_attendance,
        seats_taken: o.seats_taken,
        time_zone: o.time_zone,
        recurrence: o.rrule,
        duration_minutes: o.duration_minutes,
        created_by: o.created_by,
        created_at: o.created_at,
        updated_at: o.updated_at,
        sessions: sessions.into_iter().map(SessionResponse::from).collect(),
    }
}

/// Plan a class of a course with its schedule of sessions.
///
/// The rule expands in `time_zone` (a weekly 18:00 stays 18:00 local across daylight-saving
/// changes); a rule that never ends, expands past `service.max_occurrences` or
/// `service.max_horizon_days`, or whose first occurrence is not `starts_at` is a 422 on
/// `recurrence`; a time without its zone offset is a 422 on that field. The trainer or room
/// booked at an overlapping time is 409 `trainer_double_booked` / `room_double_booked`
/// (enforced by the database's exclusion constraints), naming the other session; a code in
/// use is 409 `code_taken`. Nothing is written when refused.
#[utoipa::path(post, path = "/v1/courses/{course_id}/classes", tag = "catalogue", request_body = CreateClassRequest,
    params(("course_id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, description = IDEMPOTENCY)),
    security(("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["class_advisor"]), ("bearer" = ["service", "classes:write"])),
    responses((status = 201, body = OfferingResponse), NotFound, Conflict))]
pub async fn create_class(
    req: HttpRequest,
    caller: Principal,
    scheduling: web::Data<Scheduling>,
    path: web::Path<Uuid>,
    body: web::Json<CreateClassRequest>,
) -> Result<HttpResponse, ApiError> {
    let course = scheduling.course(path.into_inner()).await?;
    let new = NewOffering {
        kind: CLASS,
        title: &body.title,
        description: &body.description,
        audience: &[],
        mode: &body.mode,
        meeting_url: body.meeting_url.as_deref(),
        room: body.room.as_deref(),
        trainer_id: body.trainer_id,
        capacity: body.capacity,
        min_attendance: body.min_attendance,
        time_zone: &body.time_zone,
        starts_at: &body.starts_at,
        ends_at: &body.ends_at,
        recurrence: body.recurrence.as_deref(),
    };
    let class = ClassPart {
        course_id: course.id,
        code: body.code.trim(),
        advisor_id: body.advisor_id,
    };
    let schedule = scheduling.check_offering(&new, Some(&class))?;
    let scope = format!("classes:{}:{}", caller.subject, course.id);
    let mut work = match idempotency::begin(&scheduling.platform.pool, &req, &scope, &*body).await? {
        Begun::Fresh(work) => work,
        Begun::Replay(first) => return Ok(first),
    };
    let (o, sessions) = scheduling
        .create_offering(&mut work.tx, &caller, &new, &schedule, Some(&class))
        .await?;
    let response = offering_response(o, sessions);
    work.finish(StatusCode::CREATED, &response).await?.commit().await?;
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, format!("/v1/classes/{}", response.id)))
        .json(response))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OfferingListResponse {
    /// Without their sessions (read one for them).
    pub items: Vec<OfferingResponse>,
    pub next_cursor: Option<String>,
}

fn offering_list(rows: Vec<OfferingRow>, limit: i64) -> OfferingListResponse {
    let next_cursor = pagination::next_cursor(&rows, limit, |o| (o.first_starts_at, o.id));
    OfferingListResponse {
        items: rows.into_iter().map(|o| offering_response(o, Vec::new())).collect(),
        next_cursor,
    }
}

/// A course's classes, by first session.
#[utoipa::path(get, path = "/v1/courses/{course_id}/classes", tag = "catalogue", params(("course_id" = Uuid, Path), PageQuery),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["staff"]), ("bearer" = ["service", "classes:read"])),
    responses((status = 200, body = OfferingListResponse), NotFound, Unprocessable))]
pub async fn list_classes(
    scheduling: web::Data<Scheduling>,
    path: web::Path<Uuid>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<OfferingListResponse>, ApiError> {
    let (limit, after) = page.resolve(100)?;
    let course = scheduling.course(path.into_inner()).await?;
    let rows =
        crate::store::offerings::offerings(&scheduling.platform.pool, &[CLASS], Some(course.id), after, limit).await?;
    Ok(web::Json(offering_list(rows, limit)))
}

/// Read a class with its sessions.
#[utoipa::path(get, path = "/v1/classes/{class_id}", tag = "catalogue", params(("class_id" = Uuid, Path)),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["staff"]), ("bearer" = ["service", "classes:read"])),
    responses((status = 200, body = OfferingResponse), NotFound))]
pub async fn get_class(
    scheduling: web::Data<Scheduling>,
    path: web::Path<Uuid>,
) -> Result<web::Json<OfferingResponse>, ApiError> {
    let (o, sessions) = scheduling.offering(path.into_inner(), &[CLASS]).await?;
    Ok(web::Json(offering_response(o, sessions)))
}

/// Schedule a training for customers (how to use the platform) or for staff: one session, or a
/// series by its recurrence rule; customers and staff then register per session.
///
/// Checked as classes are (see `POST /v1/courses/{course_id}/classes`): 422 on a field, 409 on a
/// double-booked trainer or room.
#[utoipa::path(post, path = "/v1/trainings", tag = "catalogue", request_body = CreateTrainingRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = IDEMPOTENCY)),
    security(("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["class_advisor"]), ("bearer" = ["trainer"]), ("bearer" = ["service", "trainings:write"])),
    responses((status = 201, body = OfferingResponse), Conflict))]
pub async fn create_training(
    req: HttpRequest,
    caller: Principal,
    scheduling: web::Data<Scheduling>,
    body: web::Json<CreateTrainingRequest>,
) -> Result<HttpResponse, ApiError> {
    if !TRAINING_KINDS.contains(&body.kind.as_str()) {
        return Err(ApiError::field("kind", "must be customer_training or staff_training"));
    }
    let new = NewOffering {
        kind: &body.kind,
        title: &body.title,
        description: &body.description,
        audience: &body.audience,
        mode: &body.mode,
        meeting_url: body.meeting_url.as_deref(),
        room: body.room.as_deref(),
        trainer_id: body.trainer_id,
        capacity: body.capacity,
        min_attendance: body.min_attendance,
        time_zone: &body.time_zone,
        starts_at: &body.starts_at,
        ends_at: &body.ends_at,
        recurrence: body.recurrence.as_deref(),
    };
    let schedule = scheduling.check_offering(&new, None)?;
    let scope = format!("trainings:{}", caller.subject);
    let mut work = match idempotency::begin(&scheduling.platform.pool, &req, &scope, &*body).await? {
        Begun::Fresh(work) => work,
        Begun::Replay(first) => return Ok(first),
    };
    let (o, sessions) = scheduling
        .create_offering(&mut work.tx, &caller, &new, &schedule, None)
        .await?;
    let response = offering_response(o, sessions);
    work.finish(StatusCode::CREATED, &response).await?.commit().await?;
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, format!("/v1/trainings/{}", response.id)))
        .json(response))
}

/// Customers see customer trainings only.
fn training_kinds(caller: &Principal) -> &'static [&'static str] {
    if is_customer_only(caller) {
        &TRAINING_KINDS[..1]
    } else {
        &TRAINING_KINDS
    }
}

/// Trainings by first session (customers see customer trainings only).
#[utoipa::path(get, path = "/v1/trainings", tag = "catalogue", params(PageQuery),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["staff"]), ("bearer" = ["service", "trainings:read"])),
    responses((status = 200, body = OfferingListResponse), Unprocessable))]
pub async fn list_trainings(
    caller: Principal,
    scheduling: web::Data<Scheduling>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<OfferingListResponse>, ApiError> {
    let (limit, after) = page.resolve(100)?;
    let rows =
        crate::store::offerings::offerings(&scheduling.platform.pool, training_kinds(&caller), None, after, limit)
            .await?;
    Ok(web::Json(offering_list(rows, limit)))
}

/// Read a training with its sessions (a staff training is 404 to customers).
#[utoipa::path(get, path = "/v1/trainings/{training_id}", tag = "catalogue", params(("training_id" = Uuid, Path)),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["staff"]), ("bearer" = ["service", "trainings:read"])),
    responses((status = 200, body = OfferingResponse), NotFound))]
pub async fn get_training(
    caller: Principal,
    scheduling: web::Data<Scheduling>,
    path: web::Path<Uuid>,
) -> Result<web::Json<OfferingResponse>, ApiError> {
    let (o, sessions) = scheduling.offering(path.into_inner(), training_kinds(&caller)).await?;
    Ok(web::Json(offering_response(o, sessions)))
}
