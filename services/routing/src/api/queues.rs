//! `/v1/queues` (definitions with live figures) and `/v1/queue-entries`.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use platform::auth::{Principal, Role};
use platform::error::{Problem, Validator};
use platform::{ApiError, Platform};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::catalog::{self, QueueDef};
use crate::domain::agent::{CATEGORIES, CHANNELS, SKILLS, TIERS};
use crate::domain::queue::is_valid_name;
use crate::router::Router;
use crate::store::{self, LogRow};

pub const STAFF: [Role; 4] = [Role::Agent, Role::Supervisor, Role::Admin, Role::Service];
pub const MANAGERS: [Role; 2] = [Role::Supervisor, Role::Admin];

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueResponse {
    #[serde(flatten)]
    pub definition: QueueDef,
    /// Tickets waiting now.
    pub waiting: u64,
    /// How long the longest-waiting ticket has waited, seconds.
    pub oldest_wait_secs: Option<i64>,
    /// The head of the queue's place in line, as an adjusted enqueue time.
    pub head_since: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueListResponse {
    pub items: Vec<QueueResponse>,
}

/// Queues with their definitions and waiting counts (staff).
#[utoipa::path(get, path = "/v1/queues", tag = "queues",
    responses((status = 200, body = QueueListResponse), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list_queues(
    caller: Principal,
    router: web::Data<Router>,
) -> Result<web::Json<QueueListResponse>, ApiError> {
    caller.require_any(&STAFF)?;
    let defs = catalog::list_queues(router.pool()).await?;
    let stats = router.live().stats().await?;
    let now = Utc::now().timestamp_millis();
    let items = defs
        .into_iter()
        .map(|d| {
            let s = stats.iter().find(|s| s.name == d.name);
            QueueResponse {
                waiting: s.map_or(0, |s| s.waiting),
                oldest_wait_secs: s
                    .and_then(|s| s.oldest_enqueued_ms)
                    .filter(|_| s.is_some_and(|s| s.waiting > 0))
                    .map(|ms| ((now - ms) / 1000).max(0)),
                head_since: s
                    .and_then(|s| s.head_score)
                    .and_then(|ms| DateTime::from_timestamp_millis(ms as i64)),
                definition: d,
            }
        })
        .collect();
    Ok(web::Json(QueueListResponse { items }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueRequest {
    #[serde(default)]
    pub description: String,
    /// Ticket categories it takes.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Channels it takes (empty: all).
    #[serde(default)]
    pub channels: Vec<String>,
    /// `junior` (default), `mid` or `senior`.
    #[serde(default)]
    pub tier: Option<String>,
    /// The skill its agents need.
    #[serde(default)]
    pub skill: Option<String>,
    #[serde(default)]
    pub precedence: i32,
    /// Offer its tickets to agents (default true); false: agents pull them with "next".
    #[serde(default)]
    pub push: Option<bool>,
    /// With `push`: give its tickets straight to the chosen agent, without an offer to accept
    /// (default false).
    #[serde(default)]
    pub auto_accept: Option<bool>,
    #[serde(default)]
    pub active: Option<bool>,
}

/// Create or replace a queue (supervisors, admins). Takes effect on every replica within
/// `catalog_refresh_ms`.
#[utoipa::path(put, path = "/v1/queues/{name}", tag = "queues", params(("name" = String, Path)), request_body = QueueRequest,
    responses((status = 201, body = QueueDef), (status = 200, body = QueueDef),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn put_queue(
    caller: Principal,
    router: web::Data<Router>,
    path: web::Path<String>,
    body: web::Json<QueueRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&MANAGERS)?;
    let name = path.into_inner();
    let b = body.into_inner();
    let tier = b.tier.unwrap_or_else(|| "junior".to_owned());
    let mut v = Validator::new();
    v.check(
        is_valid_name(&name),
        "name",
        "lowercase letters, digits, '-' or '_', at most 64",
    );
    v.check(
        b.description.chars().count() <= 500,
        "description",
        "at most 500 characters",
    );
    for c in &b.categories {
        v.one_of(c, CATEGORIES, "categories");
    }
    for c in &b.channels {
        v.one_of(c, &CHANNELS, "channels");
    }
    v.check(TIERS.contains(&tier.as_str()), "tier", "must be junior, mid or senior");
    if let Some(s) = &b.skill {
        v.one_of(s, &SKILLS, "skill");
    }
    v.check(
        (-1000..=1000).contains(&b.precedence),
        "precedence",
        "must be -1000 to 1000",
    );
    let push = b.push.unwrap_or(true);
    let auto_accept = b.auto_accept.unwrap_or(false);
    v.check(
        push || !auto_accept,
        "auto_accept",
        "only a push queue assigns without an offer",
    );
    v.finish()?;
    let def = QueueDef {
        name,
        description: b.description.trim().to_owned(),
        categories: b.categories,
        channels: b.channels,
        tier,
        skill: b.skill,
        precedence: b.precedence,
        push,
        auto_accept,
        active: b.active.unwrap_or(true),
        updated_at: Utc::now(),
    };
    let (row, created) = catalog::upsert_queue(router.pool(), &def).await?;
    router.catalog().invalidate();
    Ok(if created {
        HttpResponse::Created().json(row)
    } else {
        HttpResponse::Ok().json(row)
    })
}

/// A ticket's place in routing, as the API shows it.
pub use crate::store::QueueEntryRow as QueueEntryResponse;

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueEntryDetail {
    #[serde(flatten)]
    pub entry: QueueEntryResponse,
    /// Every step: queued, offered, offer_expired, declined, assigned, transferred, escalated,
    /// rerouted, raised, closed.
    pub log: Vec<LogRow>,
}

/// Where a ticket is in routing, with its history (staff).
#[utoipa::path(get, path = "/v1/queue-entries/{ticket_id}", tag = "queues", params(("ticket_id" = Uuid, Path)),
    responses((status = 200, body = QueueEntryDetail), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_queue_entry(
    caller: Principal,
    platform: web::Data<Platform>,
    path: web::Path<Uuid>,
) -> Result<web::Json<QueueEntryDetail>, ApiError> {
    caller.require_any(&STAFF)?;
    let id = path.into_inner();
    let e = store::entry(&platform.pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found("queue entry"))?;
    let log = store::log(&platform.pool, id).await?;
    Ok(web::Json(QueueEntryDetail { entry: e, log }))
}
