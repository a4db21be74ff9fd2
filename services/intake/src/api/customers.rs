//! `/v1/customers`: support profiles and a customer's history.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use contracts::CustomerId;
use platform::auth::Principal;
use platform::error::{Problem, on_constraint};
use platform::pagination::PageQuery;
use platform::problems::{NotFound, Unprocessable};
use platform::{ApiError, Platform};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::common::{TicketListResponse, page_of};
use crate::domain::customer::{Contact, CustomerProfile};
use crate::store::{self, customers::CustomerRow};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CustomerResponse {
    pub id: Uuid,
    pub display_name: Option<String>,
    pub role: String,
    pub segments: Vec<String>,
    pub preferred_language: String,
    pub education_level: Option<String>,
    pub time_zone: String,
    pub contacts: Vec<Contact>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn response(row: CustomerRow, contacts: Vec<Contact>) -> CustomerResponse {
    CustomerResponse {
        id: row.id.into(),
        display_name: row.display_name,
        role: row.role,
        segments: row.segments,
        preferred_language: row.preferred_language,
        education_level: row.education_level,
        time_zone: row.time_zone,
        contacts,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// Create or replace a customer's support profile (an admin, or the company's systems: a
/// service with `customers:write`).
///
/// The profile is replaced whole, contacts included. An address another customer holds is a
/// 409.
#[utoipa::path(put, path = "/v1/customers/{customer_id}", tag = "customers", params(("customer_id" = Uuid, Path)),
    request_body = CustomerProfile,
    security(("bearer" = ["admin"]), ("bearer" = ["service", "customers:write"])),
    responses(
        (status = 201, description = "Created", body = CustomerResponse),
        (status = 200, description = "Replaced", body = CustomerResponse),
        (status = 409, description = "An address belongs to another customer", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn upsert(
    platform: web::Data<Platform>,
    path: web::Path<Uuid>,
    body: web::Json<CustomerProfile>,
) -> Result<HttpResponse, ApiError> {
    let id = CustomerId::from(path.into_inner());
    let profile = body.into_inner().validate()?;
    let mut tx = platform.pool.begin().await?;
    let (row, created) = store::customers::upsert(&mut tx, id, &profile).await.map_err(|e| {
        on_constraint(e, |c| {
            (c == "customer_contact_address_idx").then(|| {
                ApiError::conflict(
                    "contact_taken",
                    "one of the contact addresses belongs to another customer",
                )
            })
        })
    })?;
    tx.commit().await?;
    let body = response(row, profile.contacts);
    Ok(if created {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

/// A customer's profile: the desk, services with `customers:read` and the customer themselves
/// (another customer's is a 404).
#[utoipa::path(get, path = "/v1/customers/{customer_id}", tag = "customers", params(("customer_id" = Uuid, Path)),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]),
        ("bearer" = ["service", "customers:read"])),
    responses((status = 200, body = CustomerResponse), NotFound))]
pub async fn get_customer(
    caller: Principal,
    platform: web::Data<Platform>,
    path: web::Path<Uuid>,
) -> Result<web::Json<CustomerResponse>, ApiError> {
    let id = CustomerId::from(path.into_inner());
    if !caller.may_read_customer(id) {
        return Err(ApiError::not_found("customer"));
    }
    let (row, contacts) = store::customers::get(&platform.pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found("customer"))?;
    Ok(web::Json(response(row, contacts)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HistoryResponse {
    pub customer_id: Uuid,
    /// Tickets ever opened for the customer.
    pub total: i64,
    /// Not yet resolved, closed or cancelled.
    pub open: i64,
    /// Status → number of tickets.
    pub by_status: BTreeMap<String, i64>,
    pub tickets: TicketListResponse,
}

/// A customer's history: every ticket, newest first, with counts. The desk, services with
/// `tickets:read` (it lists tickets) and the customer themselves (another customer's is a 404).
#[utoipa::path(get, path = "/v1/customers/{customer_id}/tickets", tag = "customers",
    params(("customer_id" = Uuid, Path), HistoryQuery),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]),
        ("bearer" = ["service", "tickets:read"])),
    responses((status = 200, body = HistoryResponse), NotFound, Unprocessable))]
pub async fn history(
    caller: Principal,
    platform: web::Data<Platform>,
    path: web::Path<Uuid>,
    query: web::Query<HistoryQuery>,
) -> Result<web::Json<HistoryResponse>, ApiError> {
    let id = CustomerId::from(path.into_inner());
    if !caller.may_read_customer(id) {
        return Err(ApiError::not_found("customer"));
    }
    let q = query.into_inner();
    let (limit, after) = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .resolve(100)?;
    let by_status: BTreeMap<String, i64> = store::customers::ticket_counts(&platform.pool, id)
        .await?
        .into_iter()
        .collect();
    let total = by_status.values().sum();
    let open = by_status
        .iter()
        .filter(|(s, _)| !["resolved", "closed", "cancelled"].contains(&s.as_str()))
        .map(|(_, n)| n)
        .sum();
    let filter = store::TicketFilter {
        customer_id: Some(id),
        status: q.status,
        ..store::TicketFilter::default()
    };
    Ok(web::Json(HistoryResponse {
        customer_id: id.into(),
        total,
        open,
        by_status,
        tickets: page_of(&platform, &filter, limit, after).await?,
    }))
}
