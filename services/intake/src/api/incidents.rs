//! `/v1/incidents`: many tickets about one fault, resolved together.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use contracts::intake::IncidentResolvedV1;
use platform::auth::{Principal, Role};
use platform::error::{Problem, Validator};
use platform::{ApiError, Platform};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::lifecycle::Action;
use crate::lifecycle::Lifecycle;
use crate::store::{self, NewMessage, incidents::IncidentRow};

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
            id: i.id,
            number: i.number,
            fault_type: i.fault_type,
            title: i.title,
            terms: i.terms,
            status: i.status,
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

fn require_staff(caller: &Principal) -> Result<(), ApiError> {
    caller.require_any(&[Role::Agent, Role::Supervisor, Role::Admin, Role::Service])
}

/// Incidents, newest first (staff).
#[utoipa::path(get, path = "/v1/incidents", tag = "incidents", params(IncidentQuery),
    responses((status = 200, body = IncidentListResponse), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    caller: Principal,
    platform: web::Data<Platform>,
    query: web::Query<IncidentQuery>,
) -> Result<web::Json<IncidentListResponse>, ApiError> {
    require_staff(&caller)?;
    let limit = query.limit.unwrap_or(50);
    let mut v = Validator::new();
    v.check((1..=100).contains(&limit), "limit", "must be 1 to 100");
    if let Some(s) = &query.status {
        v.check(
            ["open", "resolved"].contains(&s.as_str()),
            "status",
            "must be open or resolved",
        );
    }
    v.finish()?;
    let items = store::incidents::list(&platform.pool, query.status.as_deref(), limit)
        .await?
        .into_iter()
        .map(IncidentResponse::from)
        .collect();
    Ok(web::Json(IncidentListResponse { items }))
}

/// One incident (its tickets: `GET /v1/tickets?incident_id=`).
#[utoipa::path(get, path = "/v1/incidents/{incident_id}", tag = "incidents", params(("incident_id" = Uuid, Path)),
    responses((status = 200, body = IncidentResponse), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get(
    caller: Principal,
    platform: web::Data<Platform>,
    path: web::Path<Uuid>,
) -> Result<web::Json<IncidentResponse>, ApiError> {
    require_staff(&caller)?;
    let row = store::incidents::get(&platform.pool, path.into_inner())
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

/// Open an incident by hand (an agent recognises an outage before the grouping does).
#[utoipa::path(post, path = "/v1/incidents", tag = "incidents", request_body = CreateIncidentRequest,
    responses((status = 201, body = IncidentResponse), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "A ticket does not exist", body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    caller: Principal,
    platform: web::Data<Platform>,
    body: web::Json<CreateIncidentRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Agent, Role::Supervisor, Role::Admin])?;
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
    let mut tx = platform.pool.begin().await?;
    let mut terms: Vec<String> = Vec::new();
    for id in &body.ticket_ids {
        let t = store::ticket_for_update(&mut tx, *id)
            .await?
            .ok_or_else(|| ApiError::not_found("ticket"))?;
        terms.extend(t.keywords);
    }
    terms.sort();
    terms.dedup();
    let id = store::incidents::insert(&mut tx, &body.fault_type, body.title.trim(), &terms, caller.subject).await?;
    store::incidents::link(&mut tx, id, &body.ticket_ids).await?;
    platform
        .outbox
        .stage(
            &mut tx,
            contracts::intake::IncidentOpenedV1 {
                incident_id: id,
                fault_type: body.fault_type.clone(),
                title: body.title.trim().to_owned(),
                ticket_ids: body.ticket_ids.clone(),
                opened_at: Utc::now(),
            },
        )
        .await?;
    let row = store::incidents::get(&mut *tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("incident"))?;
    platform.outbox.commit(tx).await?;
    Ok(HttpResponse::Created().json(IncidentResponse::from(row)))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    pub ticket_id: Uuid,
}

/// Link a ticket to an open incident (an agent's judgement).
#[utoipa::path(post, path = "/v1/incidents/{incident_id}/tickets", tag = "incidents", params(("incident_id" = Uuid, Path)),
    request_body = LinkRequest,
    responses((status = 200, body = IncidentResponse), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The incident is resolved", body = Problem, content_type = "application/problem+json")))]
pub async fn link(
    caller: Principal,
    platform: web::Data<Platform>,
    path: web::Path<Uuid>,
    body: web::Json<LinkRequest>,
) -> Result<web::Json<IncidentResponse>, ApiError> {
    require_staff(&caller)?;
    let id = path.into_inner();
    let mut tx = platform.pool.begin().await?;
    let incident = store::incidents::get(&mut *tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("incident"))?;
    if incident.status != "open" {
        return Err(ApiError::conflict(
            "incident_resolved",
            "a resolved incident takes no more tickets",
        ));
    }
    store::ticket_for_update(&mut tx, body.ticket_id)
        .await?
        .ok_or_else(|| ApiError::not_found("ticket"))?;
    store::incidents::link(&mut tx, id, &[body.ticket_id]).await?;
    let row = store::incidents::get(&mut *tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("incident"))?;
    tx.commit().await?;
    Ok(web::Json(row.into()))
}

/// Take a ticket out of an incident.
#[utoipa::path(delete, path = "/v1/incidents/{incident_id}/tickets/{ticket_id}", tag = "incidents",
    params(("incident_id" = Uuid, Path), ("ticket_id" = Uuid, Path)),
    responses((status = 204), (status = 404, description = "Not in this incident", body = Problem, content_type = "application/problem+json")))]
pub async fn unlink(
    caller: Principal,
    platform: web::Data<Platform>,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    require_staff(&caller)?;
    let (incident, ticket) = path.into_inner();
    let mut tx = platform.pool.begin().await?;
    if !store::incidents::unlink(&mut tx, incident, ticket).await? {
        return Err(ApiError::not_found("ticket in this incident"));
    }
    tx.commit().await?;
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
/// is resolved (each customer is informed through the ticket's events).
#[utoipa::path(post, path = "/v1/incidents/{incident_id}/resolve", tag = "incidents", params(("incident_id" = Uuid, Path)),
    request_body = ResolveRequest,
    responses((status = 200, body = ResolveResponse), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Already resolved", body = Problem, content_type = "application/problem+json")))]
pub async fn resolve(
    caller: Principal,
    platform: web::Data<Platform>,
    lifecycle: web::Data<Lifecycle>,
    path: web::Path<Uuid>,
    body: web::Json<ResolveRequest>,
) -> Result<web::Json<ResolveResponse>, ApiError> {
    caller.require_any(&[Role::Agent, Role::Supervisor, Role::Admin])?;
    let mut v = Validator::new();
    v.text(&body.resolution, "resolution", 5000);
    v.finish()?;
    let id = path.into_inner();
    let resolution = body.resolution.trim();
    let mut tx = platform.pool.begin().await?;
    let incident = match store::incidents::resolve(&mut tx, id, resolution, caller.subject).await? {
        Some(i) => i,
        None => {
            return Err(match store::incidents::get(&mut *tx, id).await? {
                Some(_) => ApiError::conflict("incident_resolved", "the incident is resolved already"),
                None => ApiError::not_found("incident"),
            });
        }
    };
    let mut resolved = Vec::new();
    for ticket_id in store::incidents::open_tickets(&mut tx, id).await? {
        let Some(ticket) = store::ticket_for_update(&mut tx, ticket_id).await? else {
            continue;
        };
        let message = store::insert_message(
            &mut tx,
            &NewMessage {
                ticket_id,
                author_id: caller.subject,
                author_role: "agent",
                visibility: "public",
                kind: "message",
                body: resolution,
                channel: None,
                external_id: None,
            },
        )
        .await?;
        let first_response = store::stamp_first_response(&mut tx, ticket_id).await?;
        platform
            .outbox
            .stage(
                &mut tx,
                crate::events::message_added(ticket.customer_id, &message, first_response),
            )
            .await?;
        // The resolution events carry the row as updated (first response included).
        lifecycle
            .apply(&mut tx, &ticket, Action::Resolve, caller.subject)
            .await?;
        resolved.push(ticket_id);
    }
    platform
        .outbox
        .stage(
            &mut tx,
            IncidentResolvedV1 {
                incident_id: id,
                resolution: resolution.to_owned(),
                ticket_ids: resolved.clone(),
                resolved_by: caller.subject,
                resolved_at: incident.resolved_at.unwrap_or_else(Utc::now),
            },
        )
        .await?;
    platform.outbox.commit(tx).await?;
    tracing::info!(incident_id = %id, tickets = resolved.len(), "incident resolved");
    Ok(web::Json(ResolveResponse {
        incident: incident.into(),
        resolved_tickets: resolved,
    }))
}
