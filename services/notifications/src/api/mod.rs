//! Notifications' HTTP API.

pub mod config;
pub mod endpoints;
pub mod inbox;
pub mod messages;
pub mod recipients;

use std::sync::Arc;

use actix_web::web;
use chrono::{DateTime, Utc};
use platform::auth::{Principal, Role};
use platform::error::{FieldError, Problem, Validator};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::core::catalog::Catalog;
use crate::core::dispatch::Waker;
use crate::domain::delivery::{DeliveryStatus, Source};
use crate::settings::NotificationSettings;
use crate::store::deliveries::DeliveryRow;

/// What handlers share.
#[derive(Clone)]
pub struct State {
    pub catalog: Catalog,
    pub settings: Arc<NotificationSettings>,
    pub wake: Waker,
}

/// A name as rules, notifications and categories use them: 1 to 64 lowercase letters, digits,
/// `-` or `_`.
pub fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Checks that `value` of `field` is a name (see [`is_name`]).
pub fn check_name(v: &mut Validator, value: &str, field: &str) {
    v.check(
        is_name(value),
        field,
        "lowercase letters, digits, '-' or '_', at most 64",
    );
}

/// What a calling service may hold here (who may call each route is declared in its
/// `#[utoipa::path]`, and the kernel enforces it):
///
/// | Scope | Allows |
/// |---|---|
/// | `notifications:send` | `POST /v1/messages`; reading and cancelling its own sends |
/// | `notifications:urgent` | with `notifications:send`, `urgency: urgent` (bypasses opt-outs and quiet hours) |
/// | `notifications:config-read` | reading rules and templates |
/// | `webhooks:manage` | listing, reading and subscribing its own webhook endpoints (not to PII events) |
/// | `recipients:read` | reading anyone's preferences |
/// | `recipients:write` | setting anyone's preferences |
/// | `deliveries:read` | the delivery log and any delivery |
pub mod scopes {
    pub const SEND: &str = "notifications:send";
    pub const URGENT: &str = "notifications:urgent";
    pub const CONFIG_READ: &str = "notifications:config-read";
    pub const WEBHOOKS_MANAGE: &str = "webhooks:manage";
    pub const RECIPIENTS_READ: &str = "recipients:read";
    pub const RECIPIENTS_WRITE: &str = "recipients:write";
    pub const DELIVERIES_READ: &str = "deliveries:read";
}

/// Whether `caller` acts on every record of a route (an admin, or a service holding `scope`)
/// rather than only on its own.
pub fn acts_on_all(caller: &Principal, scope: &str) -> bool {
    caller.has(Role::Admin) || caller.has_scope(scope)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryResponse {
    pub id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub recipient_id: Uuid,
    pub channel: String,
    pub kind: String,
    pub category: String,
    pub urgency: String,
    pub locale: String,
    /// `event` (from a rule or subscription) or `api` (a direct send).
    pub source: Source,
    pub status: DeliveryStatus,
    pub attempts: i32,
    /// When the next attempt is due (pending), or when a claim lapses (sending).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub provider: Option<String>,
    pub last_error: Option<String>,
    /// The digest this message was folded into.
    pub digest_id: Option<Uuid>,
    /// The trace of the request that caused the message, end to end.
    pub trace_id: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The log's view of a delivery (the log and direct sends show the same).
pub fn delivery_response(r: DeliveryRow) -> DeliveryResponse {
    let d = r.delivery;
    DeliveryResponse {
        id: d.id,
        event_id: d.event_id,
        event_type: d.event_type,
        recipient_id: d.recipient_id,
        channel: d.channel,
        kind: d.kind,
        category: d.category,
        urgency: d.urgency,
        locale: d.locale,
        source: d.source,
        status: d.status,
        attempts: r.attempts,
        next_attempt_at: d.next_attempt_at,
        provider: r.provider,
        last_error: d.last_error,
        digest_id: r.digest_id,
        trace_id: d.trace_id,
        sent_at: r.sent_at,
        created_at: r.created_at,
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Notifications API", description = "Rules, templates, recipients' preferences, webhook endpoints, direct and scheduled sends, the in-app inbox and the delivery log."),
    paths(
        inbox::list_inbox, inbox::mark_read, inbox::mark_all_read,
        inbox::list_deliveries, inbox::get_delivery, inbox::resend,
        config::list_rules, config::put_rule, config::delete_rule,
        config::list_templates, config::put_template, config::preview,
        recipients::get_recipient, recipients::put_recipient,
        endpoints::list_endpoints, endpoints::create_endpoint, endpoints::get_endpoint,
        endpoints::update_endpoint, endpoints::delete_endpoint, endpoints::rotate_secret,
        messages::send, messages::get_send, messages::cancel,
    ),
    components(schemas(
        inbox::InboxItemResponse, inbox::InboxResponse, DeliveryResponse, DeliveryStatus, Source, inbox::DeliveryListResponse,
        inbox::DeliveryDetailResponse, inbox::AttemptResponse,
        crate::domain::rules::Rule, config::RuleListResponse, config::RuleRequest,
        crate::domain::render::Template, crate::domain::render::Rendered, config::TemplateListResponse,
        config::TemplateRequest, config::PreviewRequest,
        recipients::RecipientRequest, recipients::RecipientResponse,
        endpoints::EndpointRequest, endpoints::EndpointResponse, endpoints::EndpointListResponse,
        endpoints::SecretResponse,
        messages::SendRequest, messages::SendResponse,
        Problem, FieldError
    )),
    tags(
        (name = "inbox", description = "A recipient's own in-app messages"),
        (name = "deliveries", description = "Every message, its attempts and resends: admins and services with `deliveries:read`; a recipient reads their own"),
        (name = "rules", description = "Which event produces which notification (admins change; supervisors and services with `notifications:config-read` read)"),
        (name = "templates", description = "Versioned message templates per channel and locale (admins change and preview; supervisors and services with `notifications:config-read` read)"),
        (name = "recipients", description = "Addresses, language, time zone, quiet hours and opt-outs: a person's own, anyone's for admins and services with `recipients:read` / `recipients:write`"),
        (name = "webhooks", description = "Subscriber endpoints of the company's systems: admins, and services with `webhooks:manage` for their own"),
        (name = "messages", description = "Direct and scheduled sends: admins, and services with `notifications:send` (their own sends)"),
    )
)]
struct NotificationsApi;

pub fn openapi() -> utoipa::openapi::OpenApi {
    NotificationsApi::openapi()
}

pub fn configure(cfg: &mut web::ServiceConfig, state: &State) {
    let endpoint = "/webhook-endpoints/{endpoint_id}";
    cfg.app_data(web::Data::new(state.clone())).service(
        web::scope("/v1")
            .route("/inbox", web::get().to(inbox::list_inbox))
            .route("/inbox/read-all", web::post().to(inbox::mark_all_read))
            .route("/inbox/{delivery_id}/read", web::post().to(inbox::mark_read))
            .route("/deliveries", web::get().to(inbox::list_deliveries))
            .route("/deliveries/{delivery_id}", web::get().to(inbox::get_delivery))
            .route("/deliveries/{delivery_id}/resend", web::post().to(inbox::resend))
            .route("/rules", web::get().to(config::list_rules))
            .route("/rules/{name}", web::put().to(config::put_rule))
            .route("/rules/{name}", web::delete().to(config::delete_rule))
            .route("/templates/preview", web::post().to(config::preview))
            .route("/templates/{notification}", web::get().to(config::list_templates))
            .route(
                "/templates/{notification}/{channel}/{locale}",
                web::put().to(config::put_template),
            )
            .route("/recipients/{recipient_id}", web::get().to(recipients::get_recipient))
            .route("/recipients/{recipient_id}", web::put().to(recipients::put_recipient))
            .route("/webhook-endpoints", web::get().to(endpoints::list_endpoints))
            .route("/webhook-endpoints", web::post().to(endpoints::create_endpoint))
            .route(endpoint, web::get().to(endpoints::get_endpoint))
            .route(endpoint, web::put().to(endpoints::update_endpoint))
            .route(endpoint, web::delete().to(endpoints::delete_endpoint))
            .route(
                "/webhook-endpoints/{endpoint_id}/rotate-secret",
                web::post().to(endpoints::rotate_secret),
            )
            .route("/messages", web::post().to(messages::send))
            .route("/messages/{send_id}", web::get().to(messages::get_send))
            .route("/messages/{send_id}", web::delete().to(messages::cancel)),
    );
}
