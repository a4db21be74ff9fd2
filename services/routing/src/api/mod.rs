//! Routing's HTTP API.

pub mod admin;
pub mod agents;
pub mod insight;
pub mod queues;
pub mod work;

use actix_web::web;
use platform::error::{FieldError, Problem};
use utoipa::OpenApi;

use crate::agents::Presence;
use crate::router::Router;

#[derive(OpenApi)]
#[openapi(
    info(title = "Routing API", description = "Live queues, skills- and tier-based assignment, service levels, live view and staffing forecasts."),
    paths(queues::list_queues, queues::put_queue, queues::get_queue_entry,
        agents::upsert, agents::get, agents::list, agents::set_presence, agents::heartbeat,
        work::offers, work::held, work::accept, work::decline, work::next, work::transfer, work::escalate, work::ticket_sla,
        admin::list_policies, admin::put_policy, admin::rebuild,
        insight::live, insight::forecast),
    components(schemas(queues::QueueResponse, queues::QueueListResponse, queues::QueueRequest, queues::QueueEntryResponse,
        queues::QueueEntryDetail, crate::catalog::QueueDef, crate::store::LogRow,
        crate::domain::agent::AgentProfile, crate::domain::agent::WorkingHours, agents::AgentResponse, agents::AgentListResponse,
        agents::PresenceRequest, agents::PresenceResponse,
        work::EntryListResponse, work::TransferRequest, work::EscalateRequest, work::SlaResponse,
        crate::sla::TimerView, crate::sla::SlaLogRow, crate::domain::sla::Policy, crate::domain::sla::BusinessHours,
        admin::PolicyListResponse, admin::RebuildResponse,
        insight::LiveView, insight::LiveQueue, insight::TierFigures, insight::Compliance, insight::Outlook,
        insight::ForecastRequest, insight::ForecastInterval, insight::ForecastRow, insight::ForecastResponse,
        Problem, FieldError)),
    security(("bearer" = [])),
    tags((name = "queues", description = "Queues as data and where tickets wait"),
         (name = "agents", description = "Agents and their presence"),
         (name = "assignment", description = "Offers, next ticket, transfers and escalations"),
         (name = "sla", description = "Service-level policies and clocks"),
         (name = "live", description = "Live view and staffing forecast"),
         (name = "admin", description = "Operations"))
)]
struct RoutingApi;

pub fn openapi() -> utoipa::openapi::OpenApi {
    RoutingApi::openapi()
}

pub fn configure(cfg: &mut web::ServiceConfig, router: &Router, presence: &Presence) {
    cfg.app_data(web::Data::new(router.clone()))
        .app_data(web::Data::new(router.live().clone()))
        .app_data(web::Data::new(presence.clone()))
        .app_data(web::Data::new(router.settings().clone()))
        .service(
            // Routes are matched in order: the ones agents call most come first.
            web::scope("/v1")
                .route("/agents/{agent_id}/next", web::post().to(work::next))
                .route("/queues", web::get().to(queues::list_queues))
                .route("/queues/{name}", web::put().to(queues::put_queue))
                .route("/queue-entries/{ticket_id}", web::get().to(queues::get_queue_entry))
                .route("/agents", web::get().to(agents::list))
                .route("/agents/{agent_id}", web::put().to(agents::upsert))
                .route("/agents/{agent_id}", web::get().to(agents::get))
                .route("/agents/{agent_id}/presence", web::put().to(agents::set_presence))
                .route("/agents/{agent_id}/heartbeat", web::post().to(agents::heartbeat))
                .route("/agents/{agent_id}/offers", web::get().to(work::offers))
                .route("/agents/{agent_id}/tickets", web::get().to(work::held))
                .route("/offers/{ticket_id}/accept", web::post().to(work::accept))
                .route("/offers/{ticket_id}/decline", web::post().to(work::decline))
                .route("/tickets/{ticket_id}/transfer", web::post().to(work::transfer))
                .route("/tickets/{ticket_id}/escalate", web::post().to(work::escalate))
                .route("/tickets/{ticket_id}/sla", web::get().to(work::ticket_sla))
                .route("/sla-policies", web::get().to(admin::list_policies))
                .route("/sla-policies/{name}", web::put().to(admin::put_policy))
                .route("/admin/rebuild", web::post().to(admin::rebuild))
                .route("/live", web::get().to(insight::live))
                .route("/forecast", web::post().to(insight::forecast)),
        );
}
