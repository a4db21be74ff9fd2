//! Notifications' HTTP API.

pub mod config;
pub mod endpoints;
pub mod inbox;
pub mod messages;
pub mod recipients;

use std::sync::Arc;

use actix_web::web;
use platform::auth::Role;
use platform::error::{FieldError, Problem};
use utoipa::OpenApi;

use crate::NotificationSettings;
use crate::catalog::Catalog;
use crate::dispatch::Waker;

/// What handlers share.
#[derive(Clone)]
pub struct State {
    pub catalog: Catalog,
    pub settings: Arc<NotificationSettings>,
    pub wake: Waker,
}

/// Who may read the delivery log.
pub const OPERATORS: [Role; 3] = [Role::Admin, Role::Supervisor, Role::Service];

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
        inbox::InboxItemResponse, inbox::InboxResponse, inbox::DeliveryResponse, inbox::DeliveryListResponse,
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
    security(("bearer" = [])),
    tags(
        (name = "inbox", description = "A recipient's own in-app messages"),
        (name = "deliveries", description = "Every message, its attempts and resends, for operators"),
        (name = "rules", description = "Which event produces which notification (admins)"),
        (name = "templates", description = "Versioned message templates per channel and locale (admins)"),
        (name = "recipients", description = "Addresses, language, time zone, quiet hours and opt-outs"),
        (name = "webhooks", description = "Subscriber endpoints of the company's systems (admins)"),
        (name = "messages", description = "Direct and scheduled sends by other systems"),
    )
)]
struct NotificationsApi;

pub fn openapi() -> utoipa::openapi::OpenApi {
    NotificationsApi::openapi()
}

pub fn configure(cfg: &mut web::ServiceConfig, state: &State) {
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
            .route(
                "/webhook-endpoints/{endpoint_id}",
                web::get().to(endpoints::get_endpoint),
            )
            .route(
                "/webhook-endpoints/{endpoint_id}",
                web::put().to(endpoints::update_endpoint),
            )
            .route(
                "/webhook-endpoints/{endpoint_id}",
                web::delete().to(endpoints::delete_endpoint),
            )
            .route(
                "/webhook-endpoints/{endpoint_id}/rotate-secret",
                web::post().to(endpoints::rotate_secret),
            )
            .route("/messages", web::post().to(messages::send))
            .route("/messages/{send_id}", web::get().to(messages::get_send))
            .route("/messages/{send_id}", web::delete().to(messages::cancel)),
    );
}
