//! Intake's HTTP API.

pub mod thread;
pub mod tickets;

use actix_web::web;
use platform::error::{FieldError, Problem};
use utoipa::OpenApi;

use std::sync::Arc;

use crate::IntakeSettings;
use crate::domain::classify::Classifier;
use crate::lifecycle::Lifecycle;

#[derive(OpenApi)]
#[openapi(
    info(title = "Intake API", description = "Tickets from every channel: web form, chat, email, phone, walk-in and API."),
    paths(tickets::create_ticket, tickets::get_ticket, thread::transition, thread::add_message, thread::list_messages),
    components(schemas(tickets::CreateTicketRequest, tickets::TicketResponse, tickets::ClassificationResponse, thread::TransitionRequest, thread::CreateMessageRequest, thread::MessageResponse, thread::MessageListResponse, crate::domain::lifecycle::Action, Problem, FieldError)),
    security(("bearer" = [])),
    tags((name = "tickets", description = "Open and read tickets"))
)]
struct IntakeApi;

pub fn openapi() -> utoipa::openapi::OpenApi {
    IntakeApi::openapi()
}

pub fn configure(
    cfg: &mut web::ServiceConfig,
    limits: &IntakeSettings,
    classifier: &Arc<Classifier>,
    lifecycle: &Lifecycle,
) {
    cfg.app_data(web::Data::new(limits.clone()))
        .app_data(web::Data::from(classifier.clone()))
        .app_data(web::Data::new(lifecycle.clone()))
        .service(
            web::scope("/v1")
                .route("/tickets", web::post().to(tickets::create_ticket))
                .route("/tickets/{ticket_id}", web::get().to(tickets::get_ticket))
                .route("/tickets/{ticket_id}/transitions", web::post().to(thread::transition))
                .route("/tickets/{ticket_id}/messages", web::post().to(thread::add_message))
                .route("/tickets/{ticket_id}/messages", web::get().to(thread::list_messages)),
        );
}
