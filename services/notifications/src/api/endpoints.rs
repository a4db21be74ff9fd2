//! `/v1/webhook-endpoints`: the company's systems subscribing to events. Admins see and manage
//! every endpoint; a service with `webhooks:manage` lists, reads and subscribes only its own
//! (another's is a 404), never to private addresses nor to events that carry personal data.
//! Changing, deleting and rotating stay with admins. Secrets are shown once, at creation and
//! rotation.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use platform::auth::{Principal, Role};
use platform::error::Validator;
use platform::problems::NotFound;
use platform::{ApiError, Platform};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::State;
use crate::adapters::resolve;
use crate::domain::rules::reaches_pii;
use crate::domain::{address, webhook};
use crate::store::endpoints::{self as store, Endpoint};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointRequest {
    pub url: String,
    #[serde(default)]
    pub description: String,
    /// Event types or prefixes ending in `*` (`intake.*`).
    pub event_types: Vec<String>,
    /// Who is told when the endpoint is disabled; the caller by default.
    #[serde(default)]
    pub owner_id: Option<Uuid>,
    /// Allow private and loopback addresses (internal systems); refused otherwise (SSRF).
    #[serde(default)]
    pub allow_private: bool,
    /// Re-enable a disabled endpoint (update only).
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointResponse {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub allow_private: bool,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
    /// While a rotation overlaps, the previous secret also signs until then.
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Only in the answers to creation and rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointListResponse {
    pub items: Vec<EndpointResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SecretResponse {
    pub secret: String,
    pub previous_secret_until: DateTime<Utc>,
}

/// The endpoint as shown at `now` (the clock's time: whether a rotation still overlaps).
fn response(e: Endpoint, secret: Option<String>, now: DateTime<Utc>) -> EndpointResponse {
    EndpointResponse {
        id: e.id,
        owner_id: e.owner_id,
        url: e.url,
        description: e.description,
        event_types: e.event_types,
        allow_private: e.allow_private,
        enabled: e.enabled,
        disabled_reason: e.disabled_reason,
        failing_since: e.failing_since,
        previous_secret_until: e.previous_until.filter(|u| *u > now),
        created_at: e.created_at,
        secret,
    }
}

async fn validate(b: &EndpointRequest) -> Result<(), ApiError> {
    let mut v = Validator::new();
    v.check(
        b.description.chars().count() <= 500,
        "description",
        "at most 500 characters",
    );
    v.check(
        !b.event_types.is_empty() && b.event_types.len() <= 50,
        "event_types",
        "name 1 to 50 event types",
    );
    for t in &b.event_types {
        let base = t.strip_suffix('*').unwrap_or(t);
        v.check(
            !base.is_empty()
                && t.len() <= 128
                && base
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c)),
            "event_types",
            format!("`{t}` is not an event type or a prefix ending in *"),
        );
    }
    match address::parse_endpoint(&b.url) {
        Err(e) => {
            v.check(false, "url", e.to_string());
        }
        Ok(url) => {
            if let Err(e) = resolve::check(&url, b.allow_private).await {
                v.check(false, "url", e.to_string());
            }
        }
    }
    v.finish()
}

/// Whose endpoints `caller` sees: every one (admins) or those it subscribed (a service).
fn creator_filter(caller: &Principal) -> Option<Uuid> {
    (!caller.has(Role::Admin)).then_some(caller.subject)
}

/// Every endpoint (admins), or the caller's own (services with `webhooks:manage`).
#[utoipa::path(get, path = "/v1/webhook-endpoints", tag = "webhooks",
    security(("bearer" = ["admin"]), ("bearer" = ["service", "webhooks:manage"])),
    responses((status = 200, body = EndpointListResponse)))]
pub async fn list_endpoints(
    caller: Principal,
    platform: web::Data<Platform>,
) -> Result<web::Json<EndpointListResponse>, ApiError> {
    let now = platform.clock.now();
    Ok(web::Json(EndpointListResponse {
        items: store::endpoints_created_by(&platform.pool, creator_filter(&caller))
            .await?
            .into_iter()
            .map(|e| response(e, None, now))
            .collect(),
    }))
}

/// Subscribe an endpoint (admins; services with `webhooks:manage` for public URLs and events
/// without personal data: `*`, `intake.ticket.created` and `intake.survey.*` are an admin's,
/// 403 otherwise). The answer carries the signing secret, shown only here.
#[utoipa::path(post, path = "/v1/webhook-endpoints", tag = "webhooks", request_body = EndpointRequest,
    security(("bearer" = ["admin"]), ("bearer" = ["service", "webhooks:manage"])),
    responses((status = 201, body = EndpointResponse)))]
pub async fn create_endpoint(
    caller: Principal,
    platform: web::Data<Platform>,
    state: web::Data<State>,
    body: web::Json<EndpointRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    if !caller.has(Role::Admin) {
        if b.allow_private {
            return Err(ApiError::forbidden("only an admin may allow private addresses"));
        }
        if let Some(t) = b.event_types.iter().find(|t| reaches_pii(t)) {
            return Err(ApiError::forbidden(format!(
                "`{t}` reaches events that carry personal data (intake.ticket.created, intake.survey.*): \
                 only an admin may subscribe to them"
            )));
        }
    }
    validate(&b).await?;
    let secret = webhook::Secret::generate().to_string_whsec();
    let e = store::insert_endpoint(
        &platform.pool,
        &Endpoint {
            id: Uuid::now_v7(),
            owner_id: b.owner_id.unwrap_or(caller.subject),
            created_by: caller.subject,
            url: b.url,
            description: b.description,
            event_types: b.event_types,
            secret: secret.clone(),
            previous_secret: None,
            previous_until: None,
            allow_private: b.allow_private,
            enabled: true,
            disabled_reason: None,
            failing_since: None,
            created_at: platform.clock.now(),
        },
    )
    .await?;
    state.catalog.reload().await.map_err(ApiError::internal)?;
    Ok(HttpResponse::Created().json(response(e, Some(secret), platform.clock.now())))
}

/// One endpoint (admins; a service with `webhooks:manage` its own, another's is a 404).
#[utoipa::path(get, path = "/v1/webhook-endpoints/{endpoint_id}", tag = "webhooks", params(("endpoint_id" = Uuid, Path)),
    security(("bearer" = ["admin"]), ("bearer" = ["service", "webhooks:manage"])),
    responses((status = 200, body = EndpointResponse), NotFound))]
pub async fn get_endpoint(
    caller: Principal,
    platform: web::Data<Platform>,
    path: web::Path<Uuid>,
) -> Result<web::Json<EndpointResponse>, ApiError> {
    let creator = creator_filter(&caller);
    store::endpoint(&platform.pool, path.into_inner())
        .await?
        .filter(|e| creator.is_none_or(|c| e.created_by == c))
        .map(|e| web::Json(response(e, None, platform.clock.now())))
        .ok_or_else(|| ApiError::not_found("endpoint"))
}

/// Change an endpoint (admins); `enabled: true` re-enables a disabled one.
#[utoipa::path(put, path = "/v1/webhook-endpoints/{endpoint_id}", tag = "webhooks", params(("endpoint_id" = Uuid, Path)),
    request_body = EndpointRequest,
    security(("bearer" = ["admin"])),
    responses((status = 200, body = EndpointResponse), NotFound))]
pub async fn update_endpoint(
    platform: web::Data<Platform>,
    state: web::Data<State>,
    path: web::Path<Uuid>,
    body: web::Json<EndpointRequest>,
) -> Result<web::Json<EndpointResponse>, ApiError> {
    let id = path.into_inner();
    let b = body.into_inner();
    let Some(current) = store::endpoint(&platform.pool, id).await? else {
        return Err(ApiError::not_found("endpoint"));
    };
    validate(&b).await?;
    let e = store::update_endpoint(
        &platform.pool,
        id,
        &b.url,
        &b.description,
        &b.event_types,
        b.allow_private,
        b.enabled.unwrap_or(current.enabled),
    )
    .await?
    .ok_or_else(|| ApiError::not_found("endpoint"))?;
    state.catalog.reload().await.map_err(ApiError::internal)?;
    Ok(web::Json(response(e, None, platform.clock.now())))
}

/// Remove an endpoint (admins); its pending deliveries fail as "endpoint deleted".
#[utoipa::path(delete, path = "/v1/webhook-endpoints/{endpoint_id}", tag = "webhooks", params(("endpoint_id" = Uuid, Path)),
    security(("bearer" = ["admin"])),
    responses((status = 204), NotFound))]
pub async fn delete_endpoint(
    platform: web::Data<Platform>,
    state: web::Data<State>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    if !store::delete_endpoint(&platform.pool, path.into_inner()).await? {
        return Err(ApiError::not_found("endpoint"));
    }
    state.catalog.reload().await.map_err(ApiError::internal)?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// How long the previous secret keeps signing beside the new one (default 24 h, at most 7 days).
    #[serde(default)]
    pub overlap_secs: Option<i64>,
}

/// Rotate the signing secret (admins): the new one signs at once; the previous one also signs
/// until the overlap ends, so receivers can switch without losing a message.
#[utoipa::path(post, path = "/v1/webhook-endpoints/{endpoint_id}/rotate-secret", tag = "webhooks",
    params(("endpoint_id" = Uuid, Path)), request_body = inline(RotateRequest),
    security(("bearer" = ["admin"])),
    responses((status = 200, body = SecretResponse), NotFound))]
pub async fn rotate_secret(
    platform: web::Data<Platform>,
    state: web::Data<State>,
    path: web::Path<Uuid>,
    body: Option<web::Json<RotateRequest>>,
) -> Result<web::Json<SecretResponse>, ApiError> {
    let overlap = body.and_then(|b| b.overlap_secs).unwrap_or(86_400);
    Validator::new()
        .check(
            (0..=7 * 86_400).contains(&overlap),
            "overlap_secs",
            "must be 0 to 604800",
        )
        .finish()?;
    let secret = webhook::Secret::generate().to_string_whsec();
    let until = platform.clock.now() + chrono::Duration::seconds(overlap);
    store::rotate_secret(&platform.pool, path.into_inner(), &secret, until)
        .await?
        .ok_or_else(|| ApiError::not_found("endpoint"))?;
    state.catalog.reload().await.map_err(ApiError::internal)?;
    Ok(web::Json(SecretResponse {
        secret,
        previous_secret_until: until,
    }))
}
