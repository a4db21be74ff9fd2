//! `/v1/queues` (definitions with live figures) and `/v1/queue-entries`.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use platform::error::Validator;
use platform::problems::NotFound;
use platform::{ApiError, Platform};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::QueueEntryResponse;
use crate::core::router::Router;
use crate::domain::agent::{CATEGORIES, CHANNELS, SKILLS, TIERS};
use crate::domain::queue::is_valid_name;
use crate::store::entries;
use crate::store::log::{self, LogRow};
use crate::store::queues::{self, QueueDef};

/// A queue's definition, as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = QueueDef)]
pub struct QueueDefinition {
    pub name: String,
    pub description: String,
    /// Ticket categories it takes.
    pub categories: Vec<String>,
    /// Channels it takes (empty: all).
    pub channels: Vec<String>,
    /// The tier its tickets need: `junior`, `mid` or `senior`.
    pub tier: String,
    /// The skill an agent needs (none: any agent of the tier).
    pub skill: Option<String>,
    /// Higher wins when several queues take a ticket.
    pub precedence: i32,
    /// Offered to agents (push); false: agents take its tickets with "next" (pull).
    pub push: bool,
    /// With `push`: its tickets are given straight to the chosen agent (assigned, no offer to
    /// accept or decline).
    pub auto_accept: bool,
    pub active: bool,
    pub updated_at: DateTime<Utc>,
}

impl From<QueueDef> for QueueDefinition {
    fn from(q: QueueDef) -> Self {
        Self {
            name: q.name,
            description: q.description,
            categories: q.categories,
            channels: q.channels,
            tier: q.tier,
            skill: q.skill,
            precedence: q.precedence,
            push: q.push,
            auto_accept: q.auto_accept,
            active: q.active,
            updated_at: q.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueResponse {
    #[serde(flatten)]
    pub definition: QueueDefinition,
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

/// Queues with their definitions and waiting counts (the desk; services with `routing:read`).
#[utoipa::path(get, path = "/v1/queues", tag = "queues",
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["service", "routing:read"])),
    responses((status = 200, body = QueueListResponse)))]
pub async fn list_queues(
    platform: web::Data<Platform>,
    router: web::Data<Router>,
) -> Result<web::Json<QueueListResponse>, ApiError> {
    let defs = queues::list_queues(&platform.pool).await?;
    let stats = router.live().stats().await?;
    let now = router.now().timestamp_millis();
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
                definition: d.into(),
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
    security(("bearer" = ["supervisor"]), ("bearer" = ["admin"])),
    responses((status = 201, body = QueueDefinition), (status = 200, body = QueueDefinition)))]
pub async fn put_queue(
    platform: web::Data<Platform>,
    router: web::Data<Router>,
    path: web::Path<String>,
    body: web::Json<QueueRequest>,
) -> Result<HttpResponse, ApiError> {
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
    let (row, created) = queues::upsert_queue(&platform.pool, &def).await?;
    router.catalog().invalidate();
    let row = QueueDefinition::from(row);
    Ok(if created {
        HttpResponse::Created().json(row)
    } else {
        HttpResponse::Ok().json(row)
    })
}

/// A step of a ticket in routing.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = LogRow)]
pub struct LogResponse {
    pub kind: String,
    pub agent_id: Option<Uuid>,
    pub queue: Option<String>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub at: DateTime<Utc>,
}

impl From<LogRow> for LogResponse {
    fn from(l: LogRow) -> Self {
        Self {
            kind: l.kind,
            agent_id: l.agent_id.map(Into::into),
            queue: l.queue,
            detail: l.detail,
            at: l.at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueEntryDetail {
    #[serde(flatten)]
    pub entry: QueueEntryResponse,
    /// Every step: queued, offered, offer_expired, declined, assigned, transferred, escalated,
    /// rerouted, raised, closed.
    pub log: Vec<LogResponse>,
}

/// Where a ticket is in routing, with its history (the desk; services with `routing:read`).
#[utoipa::path(get, path = "/v1/queue-entries/{ticket_id}", tag = "queues", params(("ticket_id" = Uuid, Path)),
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["service", "routing:read"])),
    responses((status = 200, body = QueueEntryDetail), NotFound))]
pub async fn get_queue_entry(
    platform: web::Data<Platform>,
    path: web::Path<Uuid>,
) -> Result<web::Json<QueueEntryDetail>, ApiError> {
    let id = path.into_inner().into();
    let e = entries::entry(&platform.pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found("queue entry"))?;
    let log = log::log(&platform.pool, id).await?;
    Ok(web::Json(QueueEntryDetail {
        entry: e.into(),
        log: log.into_iter().map(Into::into).collect(),
    }))
}
