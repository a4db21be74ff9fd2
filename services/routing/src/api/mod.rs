//! Routing's HTTP API.

pub mod agents;
pub mod queues;

use actix_web::web;
use platform::error::{FieldError, Problem};
use utoipa::OpenApi;

use crate::RoutingSettings;
use crate::agents::Presence;
use crate::live::LiveQueues;

#[derive(OpenApi)]
#[openapi(
    info(title = "Routing API", description = "Live queues, assignment and service levels."),
    paths(queues::list_queues, queues::get_queue_entry, agents::upsert, agents::get, agents::list, agents::set_presence, agents::heartbeat),
    components(schemas(queues::QueueResponse, queues::QueueListResponse, queues::QueueEntryResponse,
        crate::domain::agent::AgentProfile, crate::domain::agent::WorkingHours, agents::AgentResponse, agents::AgentListResponse,
        agents::PresenceRequest, agents::PresenceResponse, Problem, FieldError)),
    security(("bearer" = [])),
    tags((name = "queues", description = "Live queues"), (name = "agents", description = "Agents and their presence"))
)]
struct RoutingApi;

pub fn openapi() -> utoipa::openapi::OpenApi {
    RoutingApi::openapi()
}

pub fn configure(cfg: &mut web::ServiceConfig, live: &LiveQueues, presence: &Presence, settings: &RoutingSettings) {
    cfg.app_data(web::Data::new(live.clone()))
        .app_data(web::Data::new(presence.clone()))
        .app_data(web::Data::new(settings.clone()))
        .service(
            web::scope("/v1")
                .route("/queues", web::get().to(queues::list_queues))
                .route("/queue-entries/{ticket_id}", web::get().to(queues::get_queue_entry))
                .route("/agents", web::get().to(agents::list))
                .route("/agents/{agent_id}", web::put().to(agents::upsert))
                .route("/agents/{agent_id}", web::get().to(agents::get))
                .route("/agents/{agent_id}/presence", web::put().to(agents::set_presence))
                .route("/agents/{agent_id}/heartbeat", web::post().to(agents::heartbeat)),
        );
}
