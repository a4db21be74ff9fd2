//! `/v1/messages`: other systems send a notification now or at a given time. Scheduled sends
//! are deliveries due later: durable, claimed once across replicas, cancellable until sent.
//!
//! Admins, and services with `notifications:send`; a service reads and cancels only the sends
//! it made (another's is a 404). `urgency: urgent` (past opt-outs and quiet hours) also needs
//! `notifications:urgent`, and a one-off draft an admin.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use platform::auth::{Principal, Role};
use platform::error::Problem;
use platform::error::Validator;
use platform::idempotency::{self, Begun};
use platform::problems::{Conflict, NotFound};
use platform::{ApiError, Platform};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::config::TemplateRequest;
use super::{DeliveryResponse, State, delivery_response, scopes};
use crate::core::fanout::{Batch, Request};
use crate::domain::delivery::Source;
use crate::domain::render::{self, Renderer, Template, trial_render};
use crate::domain::rules::{CHANNELS, URGENCIES};
use crate::store::{deliveries, recipients};

/// The `event_type` of a direct send's deliveries.
const DIRECT: &str = "notifications.direct";

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    pub recipient_id: Uuid,
    /// The saved template family to render (`ticket_resolved`), or a name for `draft`.
    pub notification: String,
    pub channels: Vec<String>,
    /// The template's data.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub data: Value,
    /// Send at this time instead of now (at most a year ahead).
    #[serde(default)]
    pub send_at: Option<DateTime<Utc>>,
    /// For opt-outs (default `direct`).
    #[serde(default)]
    pub category: Option<String>,
    /// Default `transactional`.
    #[serde(default)]
    pub urgency: Option<String>,
    /// One-off text instead of a saved template.
    #[serde(default)]
    #[schema(value_type = Option<TemplateRequest>)]
    pub draft: Option<Draft>,
}

#[derive(Debug, Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Draft {
    #[serde(default)]
    pub subject: String,
    pub body: String,
    #[serde(default)]
    pub html: Option<String>,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SendResponse {
    /// The send's id (the `event_id` of its deliveries).
    pub id: Uuid,
    pub send_at: Option<DateTime<Utc>>,
    pub deliveries: Vec<DeliveryResponse>,
}

/// Send a notification now or later (admins, and services with `notifications:send`;
/// `Idempotency-Key` makes retries safe). `urgency: urgent` needs an admin or
/// `notifications:urgent`, and a `draft` an admin (403 otherwise).
#[utoipa::path(post, path = "/v1/messages", tag = "messages", request_body = SendRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for the same key and body")),
    security(("bearer" = ["admin"]), ("bearer" = ["service", "notifications:send"])),
    responses((status = 202, body = SendResponse),
        (status = 409, description = "A request with this Idempotency-Key is still being processed; retry", body = Problem, content_type = "application/problem+json")))]
pub async fn send(
    req: HttpRequest,
    caller: Principal,
    platform: web::Data<Platform>,
    state: web::Data<State>,
    body: web::Json<SendRequest>,
) -> Result<HttpResponse, ApiError> {
    let admin = caller.has(Role::Admin);
    if body.draft.is_some() && !admin {
        // A draft is template code of the caller's own: admins only, not every service.
        return Err(ApiError::forbidden("only an admin may send a draft"));
    }
    if body.urgency.as_deref() == Some("urgent") && !admin && !caller.has_scope(scopes::URGENT) {
        // Urgent messages go out past opt-outs and quiet hours.
        return Err(ApiError::forbidden(format!(
            "urgency `urgent` bypasses opt-outs and quiet hours: it requires admin, or service with {}",
            scopes::URGENT
        )));
    }
    let b = body.into_inner();
    let category = b.category.clone().unwrap_or_else(|| "direct".to_owned());
    let urgency = b.urgency.clone().unwrap_or_else(|| "transactional".to_owned());
    let mut v = Validator::new();
    v.text(&b.notification, "notification", 64);
    v.check(
        !b.channels.is_empty() && b.channels.len() <= 3,
        "channels",
        "name 1 to 3 channels",
    );
    for c in &b.channels {
        v.one_of(c, &CHANNELS, "channels");
    }
    v.check(b.data.is_object(), "data", "must be a JSON object");
    v.text(&category, "category", 64);
    v.one_of(&urgency, &URGENCIES, "urgency");
    // Due times, and "a year ahead", are on the service's clock.
    let now = platform.clock.now();
    if let Some(at) = b.send_at {
        v.check(
            at < now + chrono::Duration::days(366),
            "send_at",
            "at most a year ahead",
        );
    }
    if let Some(d) = &b.draft
        && let Err((part, e)) = trial_render(&d.subject, &d.body, d.html.as_deref())
    {
        v.check(false, &format!("draft.{part}"), format!("does not render: {e}"));
    }
    v.finish()?;
    let snapshot = state.catalog.get().await.map_err(ApiError::internal)?;
    // Render first so a template that cannot render with this data is refused, not sent broken.
    let draft_renderer = b.draft.as_ref().map(|d| {
        let t = |channel: &str| Template {
            notification: b.notification.clone(),
            channel: channel.to_owned(),
            locale: state.settings.default_locale.clone(),
            version: 0,
            subject: d.subject.clone(),
            body: d.body.clone(),
            html: d.html.clone(),
        };
        Renderer::new(&[t("in_app")], &state.settings.default_locale)
    });
    let renderer = draft_renderer.as_ref().unwrap_or(&snapshot.renderer);
    let ctx = render::context(&b.data, &state.settings.public_base_url, DIRECT);
    for c in &b.channels {
        renderer
            .render(&b.notification, c, &state.settings.default_locale, &ctx)
            .map_err(|e| ApiError::unprocessable("template_does_not_render", e.to_string()))?;
    }
    let mut work = match idempotency::begin(&platform.pool, &req, &format!("messages:{}", caller.subject), &b).await? {
        Begun::Replay(resp) => return Ok(resp),
        Begun::Fresh(w) => w,
    };
    let id = Uuid::now_v7();
    let prefs = recipients::recipients(&mut *work.tx, &[b.recipient_id]).await?;
    let request = Request {
        event_id: id,
        event_type: DIRECT,
        source: Source::Api,
        notification: &b.notification,
        category: &category,
        urgency: &urgency,
        channels: &b.channels,
        digest_secs: None,
        data: &b.data,
        not_before: b.send_at,
    };
    let mut batch = Batch::default();
    batch.add(
        renderer,
        &state.settings.render_defaults(),
        &request,
        b.recipient_id,
        prefs.first(),
        platform::telemetry::current_trace_id(),
        now,
    );
    batch
        .write(&mut work.tx, now)
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
    deliveries::set_send_creator(&mut work.tx, id, caller.subject).await?;
    let rows: Vec<DeliveryResponse> = deliveries::send_deliveries(&mut *work.tx, id, None)
        .await?
        .into_iter()
        .map(delivery_response)
        .collect();
    let out = SendResponse {
        id,
        send_at: b.send_at,
        deliveries: rows,
    };
    let tx = work.finish(StatusCode::ACCEPTED, &out).await?;
    tx.commit().await?;
    state.wake.wake();
    Ok(HttpResponse::Accepted().json(out))
}

/// Whose sends `caller` may see: every one (admins) or its own (a service).
fn creator_filter(caller: &Principal) -> Option<Uuid> {
    (!caller.has(Role::Admin)).then_some(caller.subject)
}

/// A send and its deliveries (admins; a service with `notifications:send` its own, another's
/// is a 404).
#[utoipa::path(get, path = "/v1/messages/{send_id}", tag = "messages", params(("send_id" = Uuid, Path)),
    security(("bearer" = ["admin"]), ("bearer" = ["service", "notifications:send"])),
    responses((status = 200, body = SendResponse), NotFound))]
pub async fn get_send(
    caller: Principal,
    platform: web::Data<Platform>,
    path: web::Path<Uuid>,
) -> Result<web::Json<SendResponse>, ApiError> {
    let id = path.into_inner();
    let rows = deliveries::send_deliveries(&platform.pool, id, creator_filter(&caller)).await?;
    if rows.is_empty() {
        return Err(ApiError::not_found("message"));
    }
    Ok(web::Json(SendResponse {
        id,
        send_at: rows.iter().filter_map(|r| r.delivery.next_attempt_at).min(),
        deliveries: rows.into_iter().map(delivery_response).collect(),
    }))
}

/// Cancel a send's deliveries that have not gone out (admins; a service with
/// `notifications:send` its own sends, another's is a 404); 409 when every one of them already
/// has.
#[utoipa::path(delete, path = "/v1/messages/{send_id}", tag = "messages", params(("send_id" = Uuid, Path)),
    security(("bearer" = ["admin"]), ("bearer" = ["service", "notifications:send"])),
    responses((status = 204), NotFound, Conflict))]
pub async fn cancel(
    caller: Principal,
    platform: web::Data<Platform>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (cancelled, others) = deliveries::cancel_send(
        &platform.pool,
        path.into_inner(),
        creator_filter(&caller),
        platform.clock.now(),
    )
    .await?;
    match (cancelled, others) {
        (0, 0) => Err(ApiError::not_found("message")),
        (0, _) => Err(ApiError::conflict(
            "already_sent",
            "every delivery of this message has gone out or is going out",
        )),
        _ => Ok(HttpResponse::NoContent().finish()),
    }
}
