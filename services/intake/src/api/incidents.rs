//! `/v1/incidents`: many tickets about one fault, resolved together.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use contracts::{IncidentId, TicketId};
use platform::auth::Principal;
use platform::error::{Problem, Validator};
use platform::problems::{NotFound, Unprocessable};
use platform::{ApiError, Platform};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::core::incidents;
use crate::core::lifecycle::Lifecycle;
use crate::domain::incident::IncidentStatus;
use crate::store::{self, incidents::IncidentRow};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IncidentResponse {
    pub id: Uuid,
    pub number: i64,
    /// `hardware`, `software` or `network`.
    pub fault_type: String,
    pub title: String,
    /// The words its tickets share.
    pub terms: Vec<String>,
    /// `open` or `resolved`.
    pub status: String,
    pub resolution: Option<String>,
    pub ticket_count: i64,
    /// Nil when grouped automatically.
    pub opened_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_linked_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<Uuid>,
}

impl From<IncidentRow> for IncidentResponse {
    fn from(i: IncidentRow) -> Self {
        Self {
            id: i.id.into(),
            number: i.number,
            fault_type: i.fault_type,
            title: i.title,
            terms: i.terms,
            status: i.status.as_str().to_owned(),
            resolution: i.resolution,
            ticket_count: i.ticket_count,
            opened_by: i.opened_by,
            created_at: i.created_at,
            last_linked_at: i.last_linked_at,
            resolved_at: i.resolved_at,
            resolved_by: i.resolved_by,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IncidentListResponse {
    pub items: Vec<IncidentResponse>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct IncidentQuery {
    /// `open` or `resolved`.
    pub status: Option<String>,
    /// 1-100, default 50.
    pub limit: Option<i64>,
}

/// Incidents, newest first (the desk, services with `incidents:read`).
#[utoipa::path(get, path = "/v1/incidents", tag = "incidents", params(IncidentQuery),
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]),
        ("bearer" = ["service", "incidents:read"])),
    responses((status = 200, body = IncidentListResponse), Unprocessable))]
pub async fn list(
    platform: web::Data<Platform>,
    query: web::Query<IncidentQuery>,
) -> Result<web::Json<IncidentListResponse>, ApiError> {
    let limit = query.limit.unwrap_or(50);
    let mut v = Validator::new();
    v.check((1..=100).contains(&limit), "limit", "must be 1 to 100");
    let status = query.status.as_deref().map(IncidentStatus::parse);
    v.check(status != Some(None), "status", "must be open or resolved");
    v.finish()?;
    let items = store::incidents::list(&platform.pool, status.flatten(), limit)
        .await?
        .into_iter()
        .map(IncidentResponse::from)
        .collect();
    Ok(web::Json(IncidentListResponse { items }))
}

/// One incident (its tickets: `GET /v1/tickets?incident_id=`): the desk, services with
/// `incidents:read`.
#[utoipa::path(get, path = "/v1/incidents/{incident_id}", tag = "incidents", params(("incident_id" = Uuid, Path)),
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]),
        ("bearer" = ["service", "incidents:read"])),
    responses((status = 200, body = IncidentResponse), NotFound))]
pub async fn get_incident(
    platform: web::Data<Platform>,
    path: web::Path<Uuid>,
) -> Result<web::Json<IncidentResponse>, ApiError> {
    let row = store::incidents::get(&platform.pool, path.into_inner().into())
        .await?
        .ok_or_else(|| ApiError::not_found("incident"))?;
    Ok(web::Json(row.into()))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIncidentRequest {
    /// `hardware`, `software` or `network`.
    pub fault_type: String,
    pub title: String,
    /// Tickets to group under it now (more can be linked later).
    #[serde(default)]
    pub ticket_ids: Vec<Uuid>,
}

/// Open an incident by hand (the desk: an agent recognises an outage before the grouping
/// does).
#[utoipa::path(post, path = "/v1/incidents", tag = "incidents", request_body = CreateIncidentRequest,
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"])),
    responses((status = 201, body = IncidentResponse),
              (status = 404, description = "A ticket does not exist", body = Problem, content_type = "application/problem+json")))]
pub async fn create_incident(
    caller: Principal,
    platform: web::Data<Platform>,
    body: web::Json<CreateIncidentRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut v = Validator::new();
    v.check(
        crate::domain::classify::FAULT_TYPES.contains(&body.fault_type.as_str()),
        "fault_type",
        "must be hardware, software or network",
    );
    v.text(&body.title, "title", 300);
    v.check(
        body.ticket_ids.len() <= 500,
        "ticket_ids",
        "at most 500 tickets at once",
    );
    v.finish()?;
    let ticket_ids = body.ticket_ids.iter().copied().map(TicketId::from).collect();
    let row = incidents::open_by_hand(
        &platform,
        &body.fault_type,
        body.title.trim(),
        ticket_ids,
        caller.subject,
    )
    .await?;
    Ok(HttpResponse::Created().json(IncidentResponse::from(row)))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    pub ticket_id: Uuid,
}

/// Link a ticket to an open incident (an agent's judgement; services with `incidents:write`).
#[utoipa::path(post, path = "/v1/incidents/{incident_id}/tickets", tag = "incidents", params(("incident_id" = Uuid, Path)),
    request_body = LinkRequest,
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]),
        ("bearer" = ["service", "incidents:write"])),
    responses((status = 200, body = IncidentResponse), NotFound,
              (status = 409, description = "The incident is resolved", body = Problem, content_type = "application/problem+json")))]
pub async fn link(
    platform: web::Data<Platform>,
    path: web::Path<Uuid>,
    body: web::Json<LinkRequest>,
) -> Result<web::Json<IncidentResponse>, ApiError> {
    let row = incidents::link(&platform, path.into_inner().into(), body.ticket_id.into()).await?;
    Ok(web::Json(row.into()))
}

/// Take a ticket out of an incident (the desk, services with `incidents:write`).
#[utoipa::path(delete, path = "/v1/incidents/{incident_id}/tickets/{ticket_id}", tag = "incidents",
    params(("incident_id" = Uuid, Path), ("ticket_id" = Uuid, Path)),
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]),
        ("bearer" = ["service", "incidents:write"])),
    responses((status = 204), (status = 404, description = "Not in this incident", body = Problem, content_type = "application/problem+json")))]
pub async fn unlink(platform: web::Data<Platform>, path: web::Path<(Uuid, Uuid)>) -> Result<HttpResponse, ApiError> {
    let (incident, ticket) = path.into_inner();
    incidents::unlink(&platform, incident.into(), ticket.into()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// What was wrong and what was done; sent to every linked ticket as the answer.
    pub resolution: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ResolveResponse {
    pub incident: IncidentResponse,
    /// The tickets resolved with it.
    pub resolved_tickets: Vec<Uuid>,
}

/// Resolve an incident: every open linked ticket gets the resolution as a public message and
/// is resolved (each customer is informed through the ticket's events). The desk only.
#[utoipa::path(post, path = "/v1/incidents/{incident_id}/resolve", tag = "incidents", params(("incident_id" = Uuid, Path)),
    request_body = ResolveRequest,
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"])),
    responses((status = 200, body = ResolveResponse), NotFound,
              (status = 409, description = "Already resolved", body = Problem, content_type = "application/problem+json")))]
pub async fn resolve(
    caller: Principal,
    platform: web::Data<Platform>,
    lifecycle: web::Data<Lifecycle>,
    path: web::Path<Uuid>,
    body: web::Json<ResolveRequest>,
) -> Result<web::Json<ResolveResponse>, ApiError> {
    let mut v = Validator::new();
    v.text(&body.resolution, "resolution", 5000);
    v.finish()?;
    let id = IncidentId::from(path.into_inner());
    let (incident, resolved) =
        incidents::resolve(&platform, &lifecycle, id, body.resolution.trim(), caller.subject).await?;
    Ok(web::Json(ResolveResponse {
        incident: incident.into(),
        resolved_tickets: resolved.into_iter().map(Into::into).collect(),
    }))
}
