//! The agent's side: offers, "next ticket", transfers, escalations; and a ticket's clocks.

use actix_web::{HttpResponse, web};
use platform::ApiError;
use platform::auth::{Principal, Role};
use platform::error::{Problem, Validator};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::agents::self_or_manager;
use crate::api::queues::{MANAGERS, QueueEntryResponse, STAFF};
use crate::router::Router;
use crate::sla::{self, SlaLogRow, TimerView};
use crate::store;

fn the_agent(caller: &Principal, agent: Uuid) -> Result<(), ApiError> {
    if caller.has(Role::Agent) && caller.subject == agent {
        Ok(())
    } else {
        Err(ApiError::forbidden("only the agent themselves may do this"))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntryListResponse {
    pub items: Vec<QueueEntryResponse>,
}

/// Tickets offered to an agent and waiting for their answer (the agent, supervisors).
#[utoipa::path(get, path = "/v1/agents/{agent_id}/offers", tag = "assignment", params(("agent_id" = Uuid, Path)),
    responses((status = 200, body = EntryListResponse), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn offers(
    caller: Principal,
    router: web::Data<Router>,
    path: web::Path<Uuid>,
) -> Result<web::Json<EntryListResponse>, ApiError> {
    entries_of(&caller, &router, path.into_inner(), "offered").await
}

async fn entries_of(
    caller: &Principal,
    router: &Router,
    agent: Uuid,
    status: &str,
) -> Result<web::Json<EntryListResponse>, ApiError> {
    self_or_manager(caller, agent)?;
    let items = store::entries_of(router.pool(), agent, status).await?;
    Ok(web::Json(EntryListResponse { items }))
}

/// Tickets an agent holds (the agent, supervisors).
#[utoipa::path(get, path = "/v1/agents/{agent_id}/tickets", tag = "assignment", params(("agent_id" = Uuid, Path)),
    responses((status = 200, body = EntryListResponse), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn held(
    caller: Principal,
    router: web::Data<Router>,
    path: web::Path<Uuid>,
) -> Result<web::Json<EntryListResponse>, ApiError> {
    entries_of(&caller, &router, path.into_inner(), "assigned").await
}

/// Accept a ticket offered to you (the agent). 409 `offer_not_open` when it lapsed or is not
/// yours.
#[utoipa::path(post, path = "/v1/offers/{ticket_id}/accept", tag = "assignment", params(("ticket_id" = Uuid, Path)),
    responses((status = 200, body = QueueEntryResponse), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 503, description = "The live state is being rebuilt: try again", body = Problem, content_type = "application/problem+json")))]
pub async fn accept(
    caller: Principal,
    router: web::Data<Router>,
    path: web::Path<Uuid>,
) -> Result<web::Json<QueueEntryResponse>, ApiError> {
    caller.require_any(&[Role::Agent])?;
    let entry = router.accept(path.into_inner(), caller.subject).await?;
    Ok(web::Json(entry))
}

/// Decline a ticket offered to you (the agent): it keeps its place and goes to someone else.
#[utoipa::path(post, path = "/v1/offers/{ticket_id}/decline", tag = "assignment", params(("ticket_id" = Uuid, Path)),
    responses((status = 200, body = QueueEntryResponse), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn decline(
    caller: Principal,
    router: web::Data<Router>,
    path: web::Path<Uuid>,
) -> Result<web::Json<QueueEntryResponse>, ApiError> {
    caller.require_any(&[Role::Agent])?;
    let entry = router
        .give_back_offer(path.into_inner(), caller.subject, "declined")
        .await?;
    Ok(web::Json(entry))
}

/// Give me my next ticket (the agent, online): the best waiting ticket you may take, yours at
/// once. 204 when nothing waits for you; 409 `at_capacity` or `agent_not_online`; 503 while
/// the live state is being rebuilt.
#[utoipa::path(post, path = "/v1/agents/{agent_id}/next", tag = "assignment", params(("agent_id" = Uuid, Path)),
    responses((status = 200, body = QueueEntryResponse), (status = 204, description = "Nothing waits for this agent"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 503, description = "The live state is being rebuilt: try again", body = Problem, content_type = "application/problem+json")))]
pub async fn next(
    caller: Principal,
    router: web::Data<Router>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let agent = path.into_inner();
    the_agent(&caller, agent)?;
    Ok(match router.pull(agent).await? {
        Some(e) => HttpResponse::Ok().json(e),
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

/// Transfer a ticket to another agent or queue (the agent who has it, supervisors).
#[utoipa::path(post, path = "/v1/tickets/{ticket_id}/transfer", tag = "assignment", params(("ticket_id" = Uuid, Path)),
    request_body = TransferRequest,
    responses((status = 200, body = QueueEntryResponse), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn transfer(
    caller: Principal,
    router: web::Data<Router>,
    path: web::Path<Uuid>,
    body: web::Json<TransferRequest>,
) -> Result<web::Json<QueueEntryResponse>, ApiError> {
    caller.require_any(&[Role::Agent, Role::Supervisor, Role::Admin])?;
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
    let entry = router
        .transfer(
            path.into_inner(),
            caller.subject,
            caller.has_any(&MANAGERS),
            b.agent_id,
            b.queue.as_deref(),
            b.reason,
        )
        .await?;
    Ok(web::Json(entry))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalateRequest {
    pub reason: String,
}

/// Escalate a ticket a tier up (the agent who has it, supervisors): priority raised; an agent
/// below the new tier gives it back to the queue for the tier above.
#[utoipa::path(post, path = "/v1/tickets/{ticket_id}/escalate", tag = "assignment", params(("ticket_id" = Uuid, Path)),
    request_body = EscalateRequest,
    responses((status = 200, body = QueueEntryResponse), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn escalate(
    caller: Principal,
    router: web::Data<Router>,
    path: web::Path<Uuid>,
    body: web::Json<EscalateRequest>,
) -> Result<web::Json<QueueEntryResponse>, ApiError> {
    caller.require_any(&[Role::Agent, Role::Supervisor, Role::Admin])?;
    let mut v = Validator::new();
    v.text(&body.reason, "reason", 1000);
    v.finish()?;
    let ticket = path.into_inner();
    let before = store::entry(router.pool(), ticket)
        .await?
        .ok_or_else(|| ApiError::not_found("queue entry"))?;
    if !caller.has_any(&MANAGERS) && before.agent_id != Some(caller.subject) {
        return Err(ApiError::forbidden(
            "only the agent who has the ticket or a supervisor may escalate it",
        ));
    }
    router.catalog().fresh().await?;
    let mut tx = router.pool().begin().await?;
    let supervisor = router.supervisor_of(before.agent_id);
    let (entry, _) = router
        .escalate(
            &mut tx,
            ticket,
            &format!("manual: {}", body.reason.trim()),
            true,
            supervisor,
        )
        .await?
        .ok_or_else(|| ApiError::conflict("not_escalatable", format!("the ticket is {}", before.status)))?;
    tx.commit().await?;
    router.wake();
    Ok(web::Json(entry))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SlaResponse {
    pub ticket_id: Uuid,
    pub timers: Vec<TimerView>,
    /// applied, paused, resumed, warned, breached, fulfilled, cancelled — oldest first.
    pub log: Vec<SlaLogRow>,
}

/// A ticket's service-level clocks and their log (staff).
#[utoipa::path(get, path = "/v1/tickets/{ticket_id}/sla", tag = "sla", params(("ticket_id" = Uuid, Path)),
    responses((status = 200, body = SlaResponse), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn ticket_sla(
    caller: Principal,
    router: web::Data<Router>,
    path: web::Path<Uuid>,
) -> Result<web::Json<SlaResponse>, ApiError> {
    caller.require_any(&STAFF)?;
    let ticket = path.into_inner();
    let (timers, log) = sla::clocks_and_log(router.pool(), ticket).await?;
    if timers.is_empty() && log.is_empty() {
        return Err(ApiError::not_found("service-level clocks for this ticket"));
    }
    Ok(web::Json(SlaResponse {
        ticket_id: ticket,
        timers,
        log,
    }))
}
