//! `/v1/agents`: profiles (supervisors) and presence (the agents themselves).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use platform::auth::Principal;
use platform::error::{Problem, Validator};
use platform::problems::{NotFound, Unprocessable};
use platform::{ApiError, Platform};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::self_or_manager;
use crate::adapters::live::Presence;
use crate::core::router::Router;
use crate::domain::agent::{AgentProfile, PRESENCE, TIERS, WorkingHours, is_working};
use crate::store::agents::{self, AgentRow};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AgentResponse {
    pub id: Uuid,
    pub display_name: String,
    pub tier: String,
    pub skills: Vec<String>,
    pub languages: Vec<String>,
    #[schema(value_type = Object)]
    pub capacity: BTreeMap<String, u16>,
    pub time_zone: String,
    pub working_hours: Vec<WorkingHours>,
    pub supervisor_id: Option<Uuid>,
    pub active: bool,
    /// `online`, `away` (chosen, or heartbeats stopped) or `offline`.
    pub presence: String,
    /// Within their working hours now.
    pub working_now: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn response(a: AgentRow, presence: String, now: DateTime<Utc>) -> AgentResponse {
    let working_now = is_working(&a.working_hours, &a.time_zone, now);
    AgentResponse {
        id: a.id.into(),
        display_name: a.display_name,
        tier: a.tier,
        skills: a.skills,
        languages: a.languages,
        capacity: a.capacity.0,
        time_zone: a.time_zone,
        working_hours: a.working_hours.0,
        supervisor_id: a.supervisor_id.map(Into::into),
        active: a.active,
        presence,
        working_now,
        created_at: a.created_at,
        updated_at: a.updated_at,
    }
}

/// Create or replace an agent (supervisors, admins).
#[utoipa::path(put, path = "/v1/agents/{agent_id}", tag = "agents", params(("agent_id" = Uuid, Path)),
    request_body = AgentProfile,
    security(("bearer" = ["supervisor"]), ("bearer" = ["admin"])),
    responses((status = 201, body = AgentResponse), (status = 200, body = AgentResponse)))]
pub async fn upsert(
    presence: web::Data<Presence>,
    router: web::Data<Router>,
    path: web::Path<Uuid>,
    body: web::Json<AgentProfile>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let profile = body.into_inner().validate(id)?;
    let (row, created) = router.upsert_agent(id.into(), &profile).await?;
    let status = presence.get(id.into()).await.map_err(ApiError::internal)?;
    let body = response(row, status, presence.now());
    Ok(if created {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

/// An agent, with presence (the desk; services with `routing:read`).
#[utoipa::path(get, path = "/v1/agents/{agent_id}", tag = "agents", params(("agent_id" = Uuid, Path)),
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["service", "routing:read"])),
    responses((status = 200, body = AgentResponse), NotFound))]
pub async fn get(
    platform: web::Data<Platform>,
    presence: web::Data<Presence>,
    path: web::Path<Uuid>,
) -> Result<web::Json<AgentResponse>, ApiError> {
    let id = path.into_inner().into();
    let row = agents::get(&platform.pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    let status = presence.get(id).await.map_err(ApiError::internal)?;
    Ok(web::Json(response(row, status, presence.now())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AgentQuery {
    pub tier: Option<String>,
    /// Only agents with this presence.
    pub presence: Option<String>,
    /// 1-500, default 100.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AgentListResponse {
    pub items: Vec<AgentResponse>,
}

/// Agents by name (supervisors, admins; services with `routing:read`).
#[utoipa::path(get, path = "/v1/agents", tag = "agents", params(AgentQuery),
    security(("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["service", "routing:read"])),
    responses((status = 200, body = AgentListResponse), Unprocessable))]
pub async fn list(
    platform: web::Data<Platform>,
    presence: web::Data<Presence>,
    query: web::Query<AgentQuery>,
) -> Result<web::Json<AgentListResponse>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    let mut v = Validator::new();
    v.check((1..=500).contains(&limit), "limit", "must be 1 to 500");
    if let Some(t) = &query.tier {
        v.check(TIERS.contains(&t.as_str()), "tier", "must be junior, mid or senior");
    }
    if let Some(p) = &query.presence {
        v.check(
            PRESENCE.contains(&p.as_str()),
            "presence",
            "must be online, away or offline",
        );
    }
    v.finish()?;
    let mut items = Vec::new();
    for row in agents::list(&platform.pool, query.tier.as_deref(), limit).await? {
        let status = presence.get(row.id).await.map_err(ApiError::internal)?;
        if query.presence.as_ref().is_none_or(|p| *p == status) {
            items.push(response(row, status, presence.now()));
        }
    }
    Ok(web::Json(AgentListResponse { items }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresenceRequest {
    /// `online`, `away` or `offline`.
    pub status: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PresenceResponse {
    pub agent_id: Uuid,
    pub status: String,
    /// Send a heartbeat within this many seconds, or the agent reads as away.
    pub heartbeat_within_secs: u64,
}

/// Set presence (the agent, or a supervisor or admin; another agent's is a 404).
#[utoipa::path(put, path = "/v1/agents/{agent_id}/presence", tag = "agents", params(("agent_id" = Uuid, Path)),
    request_body = PresenceRequest,
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"])),
    responses((status = 200, body = PresenceResponse), NotFound))]
pub async fn set_presence(
    caller: Principal,
    presence: web::Data<Presence>,
    router: web::Data<Router>,
    path: web::Path<Uuid>,
    body: web::Json<PresenceRequest>,
) -> Result<web::Json<PresenceResponse>, ApiError> {
    let id = path.into_inner();
    self_or_manager(&caller, id)?;
    let mut v = Validator::new();
    v.check(
        PRESENCE.contains(&body.status.as_str()),
        "status",
        "must be online, away or offline",
    );
    v.finish()?;
    router.set_presence(&presence, id.into(), &body.status).await?;
    Ok(web::Json(PresenceResponse {
        agent_id: id,
        status: body.status.clone(),
        heartbeat_within_secs: router.settings().presence_ttl_secs,
    }))
}

/// Keep presence alive (the agent's client, every few seconds; or a supervisor or admin). 409
/// when offline; another agent's is a 404.
#[utoipa::path(post, path = "/v1/agents/{agent_id}/heartbeat", tag = "agents", params(("agent_id" = Uuid, Path)),
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"])),
    responses((status = 204, description = "Kept alive"), NotFound,
              (status = 409, description = "Offline: set presence first", body = Problem, content_type = "application/problem+json")))]
pub async fn heartbeat(
    caller: Principal,
    presence: web::Data<Presence>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    self_or_manager(&caller, id)?;
    if presence.heartbeat(id.into()).await.map_err(ApiError::internal)? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::conflict(
            "agent_offline",
            "the agent is offline; set presence to online or away first",
        ))
    }
}
