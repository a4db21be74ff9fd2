//! `/v1/queues` and `/v1/queue-entries`.

use actix_web::web;
use chrono::{DateTime, Utc};
use platform::auth::{Principal, Role};
use platform::error::Problem;
use platform::{ApiError, Platform};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::live::LiveQueues;
use crate::store;

const STAFF: [Role; 4] = [Role::Agent, Role::Supervisor, Role::Admin, Role::Service];

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueResponse {
    pub name: String,
    /// Tickets waiting now.
    pub waiting: u64,
    /// The first ticket's place in line, as an adjusted enqueue time.
    pub head_since: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueListResponse {
    pub items: Vec<QueueResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueEntryResponse {
    pub ticket_id: Uuid,
    pub customer_id: Uuid,
    pub queue: String,
    pub channel: String,
    pub priority: String,
    pub status: String,
    pub enqueued_at: DateTime<Utc>,
}

/// Live queues with their waiting counts (staff).
#[utoipa::path(get, path = "/v1/queues", tag = "queues",
    responses((status = 200, body = QueueListResponse), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list_queues(
    caller: Principal,
    live: web::Data<LiveQueues>,
) -> Result<web::Json<QueueListResponse>, ApiError> {
    caller.require_any(&STAFF)?;
    let items = live
        .stats()
        .await?
        .into_iter()
        .map(|s| QueueResponse {
            name: s.name,
            waiting: s.waiting,
            head_since: s.head_score.and_then(|ms| DateTime::from_timestamp_millis(ms as i64)),
        })
        .collect();
    Ok(web::Json(QueueListResponse { items }))
}

/// Where a ticket waits (staff).
#[utoipa::path(get, path = "/v1/queue-entries/{ticket_id}", tag = "queues", params(("ticket_id" = Uuid, Path)),
    responses((status = 200, body = QueueEntryResponse), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_queue_entry(
    caller: Principal,
    platform: web::Data<Platform>,
    path: web::Path<Uuid>,
) -> Result<web::Json<QueueEntryResponse>, ApiError> {
    caller.require_any(&STAFF)?;
    let e = store::entry(&platform.pool, path.into_inner())
        .await?
        .ok_or_else(|| ApiError::not_found("queue entry"))?;
    Ok(web::Json(QueueEntryResponse {
        ticket_id: e.ticket_id,
        customer_id: e.customer_id,
        queue: e.queue,
        channel: e.channel,
        priority: e.priority,
        status: e.status,
        enqueued_at: e.enqueued_at,
    }))
}
