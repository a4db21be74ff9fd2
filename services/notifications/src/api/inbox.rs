//! `/v1/inbox` (a recipient's own: every signed-in caller, services included, since an
//! endpoint's owner is told in their inbox) and `/v1/deliveries` (the log: admins and services
//! with `deliveries:read`; a recipient reads their own delivery).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use platform::auth::Principal;
use platform::error::Validator;
use platform::pagination::{self, PageQuery};
use platform::problems::{Conflict, NotFound, Unprocessable};
use platform::{ApiError, Platform};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{DeliveryResponse, State, acts_on_all, delivery_response, scopes};
use crate::domain::delivery::DeliveryStatus;
use crate::store::deliveries::{self, LogFilter};
use crate::store::inbox as mailbox;

#[derive(Debug, Serialize, ToSchema)]
pub struct InboxItemResponse {
    pub id: Uuid,
    /// What the message is about (`ticket_received`, `digest`, ...).
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

/// The caller's own in-app messages, newest first (an unreadable cursor is a 422).
#[utoipa::path(get, path = "/v1/inbox", tag = "inbox", params(PageQuery),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]),
        ("bearer" = ["staff"]), ("bearer" = ["service"])),
    responses((status = 200, body = InboxResponse), Unprocessable))]
pub async fn list_inbox(
    caller: Principal,
    platform: web::Data<Platform>,
    state: web::Data<State>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<InboxResponse>, ApiError> {
    let (limit, after) = page.resolve(state.settings.max_page_size)?;
    let (rows, unread_count) = tokio::try_join!(
        mailbox::inbox(&platform.pool, caller.subject, after, limit),
        mailbox::unread_count(&platform.pool, caller.subject),
    )?;
    let next_cursor = pagination::next_cursor(&rows, limit, |r| (r.created_at, r.delivery.id));
    Ok(web::Json(InboxResponse {
        items: rows
            .into_iter()
            .map(|r| InboxItemResponse {
                id: r.delivery.id,
                kind: r.delivery.kind,
                locale: r.delivery.locale,
                title: r.delivery.title,
                body: r.delivery.body,
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
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]),
        ("bearer" = ["staff"]), ("bearer" = ["service"])),
    responses((status = 204), NotFound))]
pub async fn mark_read(
    caller: Principal,
    platform: web::Data<Platform>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    if mailbox::mark_read(&platform.pool, caller.subject, path.into_inner(), platform.clock.now()).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found("message"))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MarkedResponse {
    pub marked: u64,
}

/// Mark all of the caller's messages read.
#[utoipa::path(post, path = "/v1/inbox/read-all", tag = "inbox",
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]),
        ("bearer" = ["staff"]), ("bearer" = ["service"])),
    responses((status = 200, body = inline(MarkedResponse))))]
pub async fn mark_all_read(
    caller: Principal,
    platform: web::Data<Platform>,
) -> Result<web::Json<MarkedResponse>, ApiError> {
    Ok(web::Json(MarkedResponse {
        marked: mailbox::mark_all_read(&platform.pool, caller.subject, platform.clock.now()).await?,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    pub recipient_id: Option<Uuid>,
    pub event_id: Option<Uuid>,
    /// `pending`, `sending`, `delivered`, `failed`, `suppressed`, `digested`, `cancelled`.
    pub status: Option<String>,
    /// `in_app`, `email`, `sms`, `webhook`.
    pub channel: Option<String>,
    /// At most `service.max_page_size`.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

pub const ALL_CHANNELS: [&str; 4] = ["in_app", "email", "sms", "webhook"];

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryListResponse {
    pub items: Vec<DeliveryResponse>,
    pub next_cursor: Option<String>,
}

/// The delivery log, searchable by recipient, event, status and channel: every recipient's
/// bodies and addresses, so admins and services with `deliveries:read` only.
#[utoipa::path(get, path = "/v1/deliveries", tag = "deliveries", params(DeliveryQuery),
    security(("bearer" = ["admin"]), ("bearer" = ["service", "deliveries:read"])),
    responses((status = 200, body = DeliveryListResponse), Unprocessable))]
pub async fn list_deliveries(
    platform: web::Data<Platform>,
    state: web::Data<State>,
    query: web::Query<DeliveryQuery>,
) -> Result<web::Json<DeliveryListResponse>, ApiError> {
    let q = query.into_inner();
    let mut v = Validator::new();
    if let Some(s) = &q.status {
        let statuses: Vec<&str> = DeliveryStatus::ALL.iter().map(|s| s.as_str()).collect();
        v.one_of(s, &statuses, "status");
    }
    if let Some(c) = &q.channel {
        v.one_of(c, &ALL_CHANNELS, "channel");
    }
    v.finish()?;
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    };
    let (limit, after) = page.resolve(state.settings.max_page_size)?;
    let filter = LogFilter {
        recipient: q.recipient_id,
        event: q.event_id,
        status: q.status.as_deref().and_then(DeliveryStatus::parse),
        channel: q.channel,
    };
    let rows = deliveries::deliveries(&platform.pool, &filter, after, limit).await?;
    let next_cursor = pagination::next_cursor(&rows, limit, |r| (r.created_at, r.delivery.id));
    Ok(web::Json(DeliveryListResponse {
        items: rows.into_iter().map(delivery_response).collect(),
        next_cursor,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptResponse {
    pub attempt: i32,
    pub provider: String,
    /// `delivered`, `retry`, `failed` or `gone`.
    pub outcome: String,
    pub status_code: Option<i32>,
    /// The provider's answer (truncated).
    pub response: Option<String>,
    pub duration_ms: i32,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryDetailResponse {
    #[serde(flatten)]
    pub delivery: DeliveryResponse,
    pub title: String,
    pub body: String,
    pub address: Option<String>,
    pub attempts_log: Vec<AttemptResponse>,
}

/// One delivery with every attempt and the provider's answers: admins and services with
/// `deliveries:read` read any; anyone else only a delivery addressed to them (otherwise 404).
#[utoipa::path(get, path = "/v1/deliveries/{delivery_id}", tag = "deliveries", params(("delivery_id" = Uuid, Path)),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]),
        ("bearer" = ["staff"]), ("bearer" = ["service", "deliveries:read"])),
    responses((status = 200, body = DeliveryDetailResponse), NotFound))]
pub async fn get_delivery(
    caller: Principal,
    platform: web::Data<Platform>,
    path: web::Path<Uuid>,
) -> Result<web::Json<DeliveryDetailResponse>, ApiError> {
    let id = path.into_inner();
    let Some(row) = deliveries::delivery(&platform.pool, id).await? else {
        return Err(ApiError::not_found("delivery"));
    };
    if !acts_on_all(&caller, scopes::DELIVERIES_READ) && row.delivery.recipient_id != caller.subject {
        return Err(ApiError::not_found("delivery"));
    }
    let attempts = deliveries::attempts(&platform.pool, id).await?;
    let d = &row.delivery;
    let (title, body, address) = (d.title.clone(), d.body.clone(), d.address.clone());
    Ok(web::Json(DeliveryDetailResponse {
        delivery: delivery_response(row),
        title,
        body,
        address,
        attempts_log: attempts
            .into_iter()
            .map(|a| AttemptResponse {
                attempt: a.attempt,
                provider: a.provider,
                outcome: a.outcome,
                status_code: a.status_code,
                response: a.response,
                duration_ms: a.duration_ms,
                at: a.at,
            })
            .collect(),
    }))
}

/// Send a failed delivery again now (admins).
#[utoipa::path(post, path = "/v1/deliveries/{delivery_id}/resend", tag = "deliveries", params(("delivery_id" = Uuid, Path)),
    security(("bearer" = ["admin"])),
    responses((status = 202), NotFound, Conflict))]
pub async fn resend(
    platform: web::Data<Platform>,
    state: web::Data<State>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    match deliveries::resend(&platform.pool, path.into_inner(), platform.clock.now()).await? {
        None => Err(ApiError::not_found("delivery")),
        Some(false) => Err(ApiError::conflict(
            "not_failed",
            "only a failed delivery can be sent again",
        )),
        Some(true) => {
            state.wake.wake();
            Ok(HttpResponse::Accepted().finish())
        }
    }
}
