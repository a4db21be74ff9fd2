//! `/v1/sla-policies` (supervisors, admins) and `/v1/admin/rebuild` (admins).

use actix_web::{HttpResponse, web};
use contracts::vocabulary::Priority;
use platform::error::Validator;
use platform::problems::Conflict;
use platform::{ApiError, Platform};
use serde::Serialize;
use utoipa::ToSchema;

use crate::core::router::{Rebuild, Router};
use crate::domain::agent::{CHANNELS, SEGMENTS, TIERS, parse_time};
use crate::domain::queue::is_valid_name;
use crate::domain::sla::Policy;
use crate::store::sla;

#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyListResponse {
    pub items: Vec<Policy>,
}

/// Service-level policies (the desk; services with `routing:read`).
#[utoipa::path(get, path = "/v1/sla-policies", tag = "sla",
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["service", "routing:read"])),
    responses((status = 200, body = PolicyListResponse)))]
pub async fn list_policies(platform: web::Data<Platform>) -> Result<web::Json<PolicyListResponse>, ApiError> {
    Ok(web::Json(PolicyListResponse {
        items: sla::list_policies(&platform.pool).await?,
    }))
}

fn validate(p: &Policy) -> Result<(), ApiError> {
    let mut v = Validator::new();
    v.check(
        is_valid_name(&p.name),
        "name",
        "lowercase letters, digits, '-' or '_', at most 64",
    );
    v.check(
        p.description.chars().count() <= 500,
        "description",
        "at most 500 characters",
    );
    for c in &p.channels {
        v.one_of(c, &CHANNELS, "channels");
    }
    for t in &p.tiers {
        v.one_of(t, &TIERS, "tiers");
    }
    for s in &p.segments {
        v.one_of(s, &SEGMENTS, "segments");
    }
    let priorities = Priority::ALL.map(Priority::as_str);
    for pr in &p.priorities {
        v.one_of(pr, &priorities, "priorities");
    }
    for (field, secs) in [
        ("first_response_secs", p.first_response_secs),
        ("next_update_secs", p.next_update_secs),
        ("resolution_secs", p.resolution_secs),
    ] {
        if let Some(s) = secs {
            v.check((1..=90 * 86_400).contains(&s), field, "must be 1 second to 90 days");
        }
    }
    v.check(
        p.first_response_secs.is_some() || p.next_update_secs.is_some() || p.resolution_secs.is_some(),
        "first_response_secs",
        "set at least one target",
    );
    if let Some(bh) = &p.business_hours {
        v.time_zone(&bh.0.time_zone, "business_hours.time_zone");
        v.check(
            !bh.0.hours.is_empty(),
            "business_hours.hours",
            "give at least one window",
        );
        for (i, w) in bh.0.hours.iter().enumerate() {
            let field = format!("business_hours.hours[{i}]");
            v.check(
                !w.days.is_empty() && w.days.iter().all(|d| (1..=7).contains(d)),
                &field,
                "days are ISO weekdays 1 to 7",
            );
            match (parse_time(&w.start), parse_time(&w.end)) {
                (Some(a), Some(b)) => v.check(a < b, &field, "start must be before end"),
                _ => v.check(false, &field, "start and end are HH:MM"),
            };
        }
    }
    v.check(
        (-1000..=1000).contains(&p.precedence),
        "precedence",
        "must be -1000 to 1000",
    );
    v.finish()
}

/// Create or replace a policy (supervisors, admins). Applies to clocks started afterwards.
#[utoipa::path(put, path = "/v1/sla-policies/{name}", tag = "sla", params(("name" = String, Path)), request_body = Policy,
    security(("bearer" = ["supervisor"]), ("bearer" = ["admin"])),
    responses((status = 201, body = Policy), (status = 200, body = Policy)))]
pub async fn put_policy(
    platform: web::Data<Platform>,
    router: web::Data<Router>,
    path: web::Path<String>,
    body: web::Json<Policy>,
) -> Result<HttpResponse, ApiError> {
    let mut p = body.into_inner();
    let name = path.into_inner();
    if p.name != name {
        return Err(ApiError::field("name", "must match the name in the path"));
    }
    validate(&p)?;
    p.description = p.description.trim().to_owned();
    let (row, created) = sla::upsert_policy(&platform.pool, &p).await?;
    router.catalog().invalidate();
    Ok(if created {
        HttpResponse::Created().json(row)
    } else {
        HttpResponse::Ok().json(row)
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RebuildResponse {
    /// Live entries (waiting, offered, assigned) restored.
    pub entries: usize,
}

/// Rebuild the live state in Redis from Postgres (admins). 409 while another rebuild runs.
#[utoipa::path(post, path = "/v1/admin/rebuild", tag = "admin",
    security(("bearer" = ["admin"])),
    responses((status = 200, body = RebuildResponse), Conflict))]
pub async fn rebuild(router: web::Data<Router>) -> Result<web::Json<RebuildResponse>, ApiError> {
    match router.rebuild(Rebuild::Force).await? {
        Some(entries) => Ok(web::Json(RebuildResponse { entries })),
        None => Err(ApiError::conflict(
            "rebuild_running",
            "another replica is rebuilding the live state",
        )),
    }
}
