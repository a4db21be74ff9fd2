//! The agent's side: offers, "next ticket", transfers, escalations; and a ticket's clocks.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use platform::ApiError;
use platform::Platform;
use platform::auth::{Principal, Role};
use platform::error::{Problem, Validator};
use platform::problems::{Conflict, NotFound};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{MANAGERS, QueueEntryResponse, self_or_manager};
use crate::core::router::{Actor, Router};
use crate::domain::entry::EntryStatus;
use crate::store::entries;
use crate::store::sla::{self, SlaLogRow, TimerRow};

/// The agent themselves: another agent's is a 404 (the route admits agents only).
fn the_agent(caller: &Principal, agent: Uuid) -> Result<(), ApiError> {
    if caller.has(Role::Agent) && caller.subject == agent {
        Ok(())
    } else {
        Err(ApiError::not_found("agent"))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntryListResponse {
    pub items: Vec<QueueEntryResponse>,
}

/// Tickets offered to an agent and waiting for their answer (the agent, supervisors, admins;
/// another agent's are a 404).
#[utoipa::path(get, path = "/v1/agents/{agent_id}/offers", tag = "assignment", params(("agent_id" = Uuid, Path)),
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"])),
    responses((status = 200, body = EntryListResponse), NotFound))]
pub async fn offers(
    caller: Principal,
    platform: web::Data<Platform>,
    path: web::Path<Uuid>,
) -> Result<web::Json<EntryListResponse>, ApiError> {
    entries_of(&caller, &platform, path.into_inner(), EntryStatus::Offered).await
}

async fn entries_of(
    caller: &Principal,
    platform: &Platform,
    agent: Uuid,
    status: EntryStatus,
) -> Result<web::Json<EntryListResponse>, ApiError> {
    self_or_manager(caller, agent)?;
    let items = entries::entries_of(&platform.pool, agent.into(), status).await?;
    Ok(web::Json(EntryListResponse {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

/// Tickets an agent holds (the agent, supervisors, admins; another agent's are a 404).
#[utoipa::path(get, path = "/v1/agents/{agent_id}/tickets", tag = "assignment", params(("agent_id" = Uuid, Path)),
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"])),
    responses((status = 200, body = EntryListResponse), NotFound))]
pub async fn held(
    caller: Principal,
    platform: web::Data<Platform>,
    path: web::Path<Uuid>,
) -> Result<web::Json<EntryListResponse>, ApiError> {
    entries_of(&caller, &platform, path.into_inner(), EntryStatus::Assigned).await
}

/// Accept a ticket offered to you (the agent). 409 `offer_not_open` when it lapsed or is not
/// yours.
#[utoipa::path(post, path = "/v1/offers/{ticket_id}/accept", tag = "assignment", params(("ticket_id" = Uuid, Path)),
    security(("bearer" = ["agent"])),
    responses((status = 200, body = QueueEntryResponse), Conflict,
              (status = 503, description = "The live state is being rebuilt: try again", body = Problem, content_type = "application/problem+json")))]
pub async fn accept(
    caller: Principal,
    router: web::Data<Router>,
    path: web::Path<Uuid>,
) -> Result<web::Json<QueueEntryResponse>, ApiError> {
    let entry = router.accept(path.into_inner().into(), caller.subject.into()).await?;
    Ok(web::Json(entry.into()))
}

/// Decline a ticket offered to you (the agent): it keeps its place and goes to someone else.
#[utoipa::path(post, path = "/v1/offers/{ticket_id}/decline", tag = "assignment", params(("ticket_id" = Uuid, Path)),
    security(("bearer" = ["agent"])),
    responses((status = 200, body = QueueEntryResponse), Conflict))]
pub async fn decline(
    caller: Principal,
    router: web::Data<Router>,
    path: web::Path<Uuid>,
) -> Result<web::Json<QueueEntryResponse>, ApiError> {
    let entry = router
        .give_back_offer(path.into_inner().into(), caller.subject.into(), "declined")
        .await?;
    Ok(web::Json(entry.into()))
}

/// Give me my next ticket (the agent, online): the best waiting ticket you may take, yours at
/// once. 204 when nothing waits for you; 404 for another agent's, or an agent not defined;
/// 409 `at_capacity` or `agent_not_online`; 503 while the live state is being rebuilt.
#[utoipa::path(post, path = "/v1/agents/{agent_id}/next", tag = "assignment", params(("agent_id" = Uuid, Path)),
    security(("bearer" = ["agent"])),
    responses((status = 200, body = QueueEntryResponse), (status = 204, description = "Nothing waits for this agent"),
              NotFound, Conflict,
              (status = 503, description = "The live state is being rebuilt: try again", body = Problem, content_type = "application/problem+json")))]
pub async fn next(
    caller: Principal,
    router: web::Data<Router>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let agent = path.into_inner();
    the_agent(&caller, agent)?;
    Ok(match router.pull(agent.into()).await? {
        Some(e) => HttpResponse::Ok().json(QueueEntryResponse::from(e)),
        None => HttpResponse::NoContent().finish(),
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// The agent to give it to (online, with room on its channel) …
    #[serde(default)]
    pub agent_id: Option<Uuid>,
    /// … or the queue to put it back in.
    #[serde(default)]
    pub queue: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Transfer a ticket to another agent or queue (the agent who has it, supervisors, admins; 403
/// for another agent).
#[utoipa::path(post, path = "/v1/tickets/{ticket_id}/transfer", tag = "assignment", params(("ticket_id" = Uuid, Path)),
    request_body = TransferRequest,
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"])),
    responses((status = 200, body = QueueEntryResponse), NotFound, Conflict))]
pub async fn transfer(
    caller: Principal,
    router: web::Data<Router>,
    path: web::Path<Uuid>,
    body: web::Json<TransferRequest>,
) -> Result<web::Json<QueueEntryResponse>, ApiError> {
    let b = body.into_inner();
    let mut v = Validator::new();
    v.check(
        b.agent_id.is_some() != b.queue.is_some(),
        "agent_id",
        "give exactly one of agent_id and queue",
    );
    if let Some(r) = &b.reason {
        v.text(r, "reason", 1000);
    }
    v.finish()?;
    let actor = Actor {
        id: caller.subject,
        manager: caller.has_any(&MANAGERS),
    };
    let entry = router
        .transfer(
            path.into_inner().into(),
            actor,
            b.agent_id.map(Into::into),
            b.queue.as_deref(),
            b.reason,
        )
        .await?;
    Ok(web::Json(entry.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalateRequest {
    pub reason: String,
}

/// Escalate a ticket a tier up (the agent who has it, supervisors, admins; 403 for another
/// agent): priority raised; an agent below the new tier gives it back to the queue for the
/// tier above.
#[utoipa::path(post, path = "/v1/tickets/{ticket_id}/escalate", tag = "assignment", params(("ticket_id" = Uuid, Path)),
    request_body = EscalateRequest,
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"])),
    responses((status = 200, body = QueueEntryResponse), NotFound, Conflict))]
pub async fn escalate(
    caller: Principal,
    router: web::Data<Router>,
    path: web::Path<Uuid>,
    body: web::Json<EscalateRequest>,
) -> Result<web::Json<QueueEntryResponse>, ApiError> {
    let mut v = Validator::new();
    v.text(&body.reason, "reason", 1000);
    v.finish()?;
    let actor = Actor {
        id: caller.subject,
        manager: caller.has_any(&MANAGERS),
    };
    let entry = router
        .escalate_by(path.into_inner().into(), actor, body.reason.trim())
        .await?;
    Ok(web::Json(entry.into()))
}

/// A ticket's clock, as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TimerView)]
pub struct TimerResponse {
    pub metric: String,
    pub policy: String,
    pub target_secs: i64,
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub warned_at: Option<DateTime<Utc>>,
    pub breached_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<TimerRow> for TimerResponse {
    fn from(t: TimerRow) -> Self {
        Self {
            metric: t.metric,
            policy: t.policy,
            target_secs: t.target_secs,
            status: t.status,
            started_at: t.started_at,
            due_at: t.due_at,
            warned_at: t.warned_at,
            breached_at: t.breached_at,
            finished_at: t.finished_at,
        }
    }
}

/// A step of a ticket's clocks, as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SlaLogRow)]
pub struct SlaLogResponse {
    pub metric: String,
    /// `applied`, `paused`, `resumed`, `warned`, `breached`, `fulfilled`, `cancelled`.
    pub kind: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub at: DateTime<Utc>,
}

impl From<SlaLogRow> for SlaLogResponse {
    fn from(l: SlaLogRow) -> Self {
        Self {
            metric: l.metric,
            kind: l.kind,
            detail: l.detail,
            at: l.at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SlaResponse {
    pub ticket_id: Uuid,
    pub timers: Vec<TimerResponse>,
    /// applied, paused, resumed, warned, breached, fulfilled, cancelled — oldest first.
    pub log: Vec<SlaLogResponse>,
}

/// A ticket's service-level clocks and their log (the desk; services with `routing:read`).
#[utoipa::path(get, path = "/v1/tickets/{ticket_id}/sla", tag = "sla", params(("ticket_id" = Uuid, Path)),
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["service", "routing:read"])),
    responses((status = 200, body = SlaResponse), NotFound))]
pub async fn ticket_sla(
    platform: web::Data<Platform>,
    path: web::Path<Uuid>,
) -> Result<web::Json<SlaResponse>, ApiError> {
    let ticket = path.into_inner();
    let (timers, log) = sla::clocks_and_log(&platform.pool, ticket.into()).await?;
    if timers.is_empty() && log.is_empty() {
        return Err(ApiError::not_found("service-level clocks for this ticket"));
    }
    Ok(web::Json(SlaResponse {
        ticket_id: ticket,
        timers: timers.into_iter().map(Into::into).collect(),
        log: log.into_iter().map(Into::into).collect(),
    }))
}
