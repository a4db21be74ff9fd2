//! Notifications' HTTP API.

pub mod inbox;

use actix_web::web;
use platform::error::{FieldError, Problem};
use utoipa::OpenApi;

use crate::NotificationSettings;

#[derive(OpenApi)]
#[openapi(
    info(title = "Notifications API", description = "In-app inbox and the delivery log."),
    paths(inbox::list_inbox, inbox::mark_read, inbox::list_deliveries),
    components(schemas(inbox::InboxItemResponse, inbox::InboxResponse, inbox::DeliveryResponse, inbox::DeliveryListResponse, Problem, FieldError)),
    security(("bearer" = [])),
    tags((name = "inbox", description = "A recipient's own in-app messages"), (name = "deliveries", description = "Every message sent, for operators"))
)]
struct NotificationsApi;

pub fn openapi() -> utoipa::openapi::OpenApi {
    NotificationsApi::openapi()
}

pub fn configure(cfg: &mut web::ServiceConfig, settings: &NotificationSettings) {
    cfg.app_data(web::Data::new(settings.clone())).service(
        web::scope("/v1")
            .route("/inbox", web::get().to(inbox::list_inbox))
            .route("/inbox/{delivery_id}/read", web::post().to(inbox::mark_read))
            .route("/deliveries", web::get().to(inbox::list_deliveries)),
    );
}
