//! `/v1/inbox` and `/v1/deliveries`.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use platform::auth::{Principal, Role};
use platform::error::Problem;
use platform::pagination::{self, PageQuery};
use platform::{ApiError, Platform};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::NotificationSettings;
use crate::store::{self, DeliveryRow};

#[derive(Debug, Serialize, ToSchema)]
pub struct InboxItemResponse {
    pub id: Uuid,
    /// What the message is about (`ticket_received`, ...).
    pub kind: String,
    pub locale: String,
    pub title: String,
    pub body: String,
    pub read: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InboxResponse {
    pub items: Vec<InboxItemResponse>,
    pub unread_count: i64,
    pub next_cursor: Option<String>,
}

/// The caller's own in-app messages, newest first.
#[utoipa::path(get, path = "/v1/inbox", tag = "inbox", params(PageQuery),
    responses((status = 200, body = InboxResponse), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn list_inbox(
    caller: Principal,
    platform: web::Data<Platform>,
    settings: web::Data<NotificationSettings>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<InboxResponse>, ApiError> {
    let (limit, after) = page.resolve(settings.max_page_size)?;
    let rows = store::inbox(&platform.pool, caller.subject, after, limit).await?;
    let next_cursor = pagination::next_cursor(&rows, limit, |r| (r.created_at, r.id));
    let unread_count = store::unread_count(&platform.pool, caller.subject).await?;
    Ok(web::Json(InboxResponse {
        items: rows
            .into_iter()
            .map(|r| InboxItemResponse {
                id: r.id,
                kind: r.kind,
                locale: r.locale,
                title: r.title,
                body: r.body,
                read: r.read_at.is_some(),
                created_at: r.created_at,
            })
            .collect(),
        unread_count,
        next_cursor,
    }))
}

/// Mark one of the caller's messages read (idempotent).
#[utoipa::path(post, path = "/v1/inbox/{delivery_id}/read", tag = "inbox", params(("delivery_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn mark_read(
    caller: Principal,
    platform: web::Data<Platform>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    if store::mark_read(&platform.pool, caller.subject, path.into_inner()).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found("message"))
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    pub recipient_id: Option<Uuid>,
    pub event_id: Option<Uuid>,
    /// At most `service.max_page_size` (default 20).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryResponse {
    pub id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub recipient_id: Uuid,
    pub channel: String,
    pub kind: String,
    pub status: String,
    /// The trace of the request that caused the message, end to end.
    pub trace_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryListResponse {
    pub items: Vec<DeliveryResponse>,
}

/// The delivery log (admins, supervisors and services).
#[utoipa::path(get, path = "/v1/deliveries", tag = "deliveries", params(DeliveryQuery),
    responses((status = 200, body = DeliveryListResponse), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list_deliveries(
    caller: Principal,
    platform: web::Data<Platform>,
    settings: web::Data<NotificationSettings>,
    query: web::Query<DeliveryQuery>,
) -> Result<web::Json<DeliveryListResponse>, ApiError> {
    caller.require_any(&[Role::Admin, Role::Supervisor, Role::Service])?;
    let page = PageQuery {
        limit: query.limit,
        cursor: None,
    };
    let (limit, _) = page.resolve(settings.max_page_size)?;
    let rows = store::deliveries(&platform.pool, query.recipient_id, query.event_id, limit).await?;
    Ok(web::Json(DeliveryListResponse {
        items: rows.into_iter().map(delivery_response).collect(),
    }))
}

fn delivery_response(r: DeliveryRow) -> DeliveryResponse {
    DeliveryResponse {
        id: r.id,
        event_id: r.event_id,
        event_type: r.event_type,
        recipient_id: r.recipient_id,
        channel: r.channel,
        kind: r.kind,
        status: r.status,
        trace_id: r.trace_id,
        created_at: r.created_at,
    }
}
