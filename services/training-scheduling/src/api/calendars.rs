//! `/v1/calendar-feeds` (issue a secret feed URL) and `/v1/calendars/{token}` (the feed).

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, web};
use platform::ApiError;
use platform::auth::Principal;
use platform::problems::NotFound;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::core::Scheduling;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFeedRequest {
    /// Whose feed: default the caller (the desk, class advisors, the front desk and services
    /// may name anyone).
    #[serde(default)]
    pub person_id: Option<Uuid>,
    /// `participant` (their seats and classes, also as a guardian) or `trainer` (the sessions
    /// they teach).
    #[schema(example = "participant")]
    pub view: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FeedResponse {
    pub person_id: Uuid,
    pub view: String,
    /// The secret feed URL to subscribe to (the token in it is shown only now).
    pub url: String,
    pub token: String,
}

/// Issue a calendar feed URL (a new secret token; the person's previous one for the view stops
/// working).
#[utoipa::path(post, path = "/v1/calendar-feeds", tag = "calendars", request_body = CreateFeedRequest,
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["staff"]), ("bearer" = ["service", "calendars:write"])),
    responses((status = 201, body = FeedResponse)))]
pub async fn create_calendar_feed(
    caller: Principal,
    scheduling: web::Data<Scheduling>,
    body: web::Json<CreateFeedRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut tx = scheduling.platform.pool.begin().await?;
    let feed = scheduling
        .issue_feed(&mut tx, &caller, body.person_id, &body.view)
        .await?;
    tx.commit().await?;
    Ok(HttpResponse::Created().json(FeedResponse {
        person_id: feed.person_id,
        view: feed.view.to_owned(),
        url: feed.url,
        token: feed.token,
    }))
}

/// A person's calendar (iCalendar, RFC 5545), opened by the secret token alone.
///
/// Each class or training is one item with a stable UID: a series as its RRULE in its time
/// zone (with the VTIMEZONE from the time-zone database), EXDATE for occurrences the person
/// does not attend, and an override per moved (RECURRENCE-ID) or cancelled (STATUS:CANCELLED)
/// occurrence; SEQUENCE grows with every change. An unknown or replaced token is 404.
#[utoipa::path(get, path = "/v1/calendars/{token}", tag = "calendars", params(("token" = String, Path)),
    security(()),
    responses((status = 200, description = "The feed", content_type = "text/calendar", body = String), NotFound))]
pub async fn get_calendar(
    scheduling: web::Data<Scheduling>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let text = scheduling.render_feed(&path.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/calendar; charset=utf-8"))
        .insert_header((CACHE_CONTROL, "private, max-age=300"))
        .body(text))
}
