//! Routing's HTTP API.

pub mod admin;
pub mod agents;
pub mod insight;
pub mod queues;
pub mod work;

use actix_web::web;
use chrono::{DateTime, Utc};
use platform::ApiError;
use platform::auth::{Principal, Role};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::adapters::live::Presence;
use crate::core::router::{Refusal, Router};
use crate::domain::entry::EntryStatus;
use crate::store::entries::QueueEntryRow;

#[derive(OpenApi)]
#[openapi(
    info(title = "Routing API", description = "Live queues, skills- and tier-based assignment, service levels, live view and staffing forecasts."),
    paths(queues::list_queues, queues::put_queue, queues::get_queue_entry,
        agents::upsert, agents::get, agents::list, agents::set_presence, agents::heartbeat,
        work::offers, work::held, work::accept, work::decline, work::next, work::transfer, work::escalate, work::ticket_sla,
        admin::list_policies, admin::put_policy, admin::rebuild,
        insight::live, insight::forecast),
    components(schemas(queues::QueueResponse, queues::QueueListResponse, queues::QueueRequest, QueueEntryResponse,
        queues::QueueEntryDetail, queues::QueueDefinition, queues::LogResponse,
        crate::domain::agent::AgentProfile, crate::domain::agent::WorkingHours, agents::AgentResponse, agents::AgentListResponse,
        agents::PresenceRequest, agents::PresenceResponse,
        work::EntryListResponse, work::TransferRequest, work::EscalateRequest, work::SlaResponse,
        work::TimerResponse, work::SlaLogResponse, crate::domain::sla::Policy, crate::domain::sla::BusinessHours,
        admin::PolicyListResponse, admin::RebuildResponse,
        insight::LiveView, insight::LiveQueue, insight::TierFigures, insight::Compliance, insight::Outlook,
        insight::ForecastRequest, insight::ForecastInterval, insight::ForecastRow, insight::ForecastResponse)),
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

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Rebuilding => {
                ApiError::unavailable("the live state is being rebuilt from the database; try again in a moment")
            }
            Refusal::NotOnline => ApiError::conflict("agent_not_online", "set your presence to online to take tickets"),
            Refusal::AtCapacity => {
                ApiError::conflict("at_capacity", "you hold as many tickets as your capacity allows")
            }
            Refusal::NotYours => ApiError::conflict(
                "offer_not_open",
                "this ticket is not offered to you (it expired or went to someone else)",
            ),
        }
    }
}

/// Those who manage agents and configuration: supervisors and admins.
const MANAGERS: [Role; 2] = [Role::Supervisor, Role::Admin];

/// The agent themselves, or a supervisor or admin. Another agent's presence, offers and
/// tickets are a 404 to an agent, as another customer's records are to a customer (the route's
/// declaration already keeps everyone but agents and managers out).
fn self_or_manager(caller: &Principal, agent: Uuid) -> Result<(), ApiError> {
    if caller.subject == agent && caller.has(Role::Agent) || caller.has_any(&MANAGERS) {
        Ok(())
    } else {
        Err(ApiError::not_found("agent"))
    }
}

/// A ticket's place in routing, as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = QueueEntry)]
pub struct QueueEntryResponse {
    pub ticket_id: Uuid,
    pub customer_id: Uuid,
    pub queue: String,
    pub channel: String,
    pub priority: String,
    pub category: Option<String>,
    /// `held`, `waiting`, `offered`, `assigned` or `closed`.
    #[schema(value_type = String)]
    pub status: EntryStatus,
    /// Its place in line: the enqueue time in ms moved earlier by priority, VIP, high emotion
    /// and SLA warnings (lower is served first).
    pub score: f64,
    pub enqueued_at: DateTime<Utc>,
    pub high_emotion: bool,
    /// The tier it needs now.
    pub tier: String,
    pub skill: Option<String>,
    pub language: Option<String>,
    pub segments: Vec<String>,
    /// The agent it is offered to or held by.
    pub agent_id: Option<Uuid>,
    pub offer_expires_at: Option<DateTime<Utc>>,
    pub escalations: i32,
}

impl From<QueueEntryRow> for QueueEntryResponse {
    fn from(e: QueueEntryRow) -> Self {
        Self {
            ticket_id: e.ticket_id.into(),
            customer_id: e.customer_id.into(),
            queue: e.queue,
            channel: e.channel,
            priority: e.priority,
            category: e.category,
            status: e.status,
            score: e.score,
            enqueued_at: e.enqueued_at,
            high_emotion: e.high_emotion,
            tier: e.tier,
            skill: e.skill,
            language: e.language,
            segments: e.segments,
            agent_id: e.agent_id.map(Into::into),
            offer_expires_at: e.offer_expires_at,
            escalations: e.escalations,
        }
    }
}
