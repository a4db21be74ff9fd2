//! `/v1/policies`, `/v1/policy-presets` and `/v1/quotes`: the refund policy as data, and what
//! it gives back.

use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use platform::ApiError;
use platform::auth::Principal;
use platform::problems::NotFound;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::core::Refunds;
use crate::core::policies::{PolicyInput, Question};
use crate::domain::policy::{Line, Policy, Reason, Rule, explain_text};
use crate::store::policies::PolicyRow;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePolicyRequest {
    #[schema(example = "2027 standard")]
    pub name: String,
    /// The engine's rules, applied in order (give these or `preset`).
    #[serde(default)]
    #[schema(value_type = Option<Vec<Rule>>)]
    pub rules: Option<serde_json::Value>,
    /// A preset's rules instead (`GET /v1/policy-presets`).
    #[serde(default)]
    #[schema(example = "standard")]
    pub preset: Option<String>,
    /// Applies to enrolments from this moment on (until a later version takes effect).
    pub effective_from: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PolicyResponse {
    pub version: i32,
    pub name: String,
    /// The preset the rules were taken from.
    pub preset: Option<String>,
    pub rules: Vec<Rule>,
    pub effective_from: DateTime<Utc>,
    /// Null for version 0 (seeded).
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl From<PolicyRow> for PolicyResponse {
    fn from(p: PolicyRow) -> Self {
        Self {
            version: p.version,
            name: p.name,
            preset: p.preset,
            rules: p.rules.rules,
            effective_from: p.effective_from,
            created_by: p.created_by,
            created_at: p.created_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PolicyListResponse {
    /// Newest version first.
    pub items: Vec<PolicyResponse>,
}

/// Create a policy version (admins): the engine's rules, or a preset's, effective from a
/// moment. Versions are immutable and numbered 1, 2, 3, …; version 0 is the `standard` preset,
/// in force from the start. An enrolment is refunded under the version in force when it
/// enrolled: the one that took effect last at or before `enrolled_at` (of those taking effect
/// at the same moment, the newest). Rules that do not parse: 422 naming each field
/// (`rules[2].tiers[1].refund_percent`).
#[utoipa::path(post, path = "/v1/policies", tag = "policies", request_body = CreatePolicyRequest,
    security(("bearer" = ["admin"])),
    responses((status = 201, description = "Created", body = PolicyResponse)))]
pub async fn create_policy(
    caller: Principal,
    refunds: web::Data<Refunds>,
    body: web::Json<CreatePolicyRequest>,
) -> Result<HttpResponse, ApiError> {
    let row = refunds
        .create_policy(
            &caller,
            &PolicyInput {
                name: &body.name,
                rules: body.rules.as_ref(),
                preset: body.preset.as_deref(),
                effective_from: body.effective_from,
            },
        )
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, format!("/v1/policies/{}", row.version)))
        .json(PolicyResponse::from(row)))
}

/// Every policy version, newest first (the desk, services with `refunds:read`).
#[utoipa::path(get, path = "/v1/policies", tag = "policies",
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["service", "refunds:read"])),
    responses((status = 200, body = PolicyListResponse)))]
pub async fn list_policies(refunds: web::Data<Refunds>) -> Result<web::Json<PolicyListResponse>, ApiError> {
    let items = refunds.policies().await?;
    Ok(web::Json(PolicyListResponse {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

/// One policy version (the desk, services with `refunds:read`).
#[utoipa::path(get, path = "/v1/policies/{version}", tag = "policies", params(("version" = i32, Path)),
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["service", "refunds:read"])),
    responses((status = 200, body = PolicyResponse), NotFound))]
pub async fn get_policy(
    refunds: web::Data<Refunds>,
    path: web::Path<i32>,
) -> Result<web::Json<PolicyResponse>, ApiError> {
    Ok(web::Json(refunds.policy(path.into_inner()).await?.into()))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PresetResponse {
    pub name: String,
    pub description: String,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PresetListResponse {
    pub items: Vec<PresetResponse>,
}

/// The named presets a policy can be created from (the desk, services with `refunds:read`).
#[utoipa::path(get, path = "/v1/policy-presets", tag = "policies",
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["service", "refunds:read"])),
    responses((status = 200, body = PresetListResponse)))]
pub async fn list_policy_presets() -> web::Json<PresetListResponse> {
    web::Json(PresetListResponse {
        items: Policy::presets()
            .into_iter()
            .map(|(name, description, p)| PresetResponse {
                name: name.to_owned(),
                description: description.to_owned(),
                rules: p.rules,
            })
            .collect(),
    })
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteRequest {
    pub enrolment_id: Uuid,
    /// `course_quality`, `teacher`, `schedule`, `relocation`, `duplicate_charge` or `other`.
    #[schema(example = "schedule")]
    pub reason: String,
    /// What if the refund were on this date (default: now).
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
    /// What if this many sessions were attended (default: the recorded count).
    #[serde(default)]
    pub attended_sessions: Option<i32>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QuoteResponse {
    pub enrolment_id: Uuid,
    /// The policy in force at enrolment.
    pub policy_version: i32,
    pub policy_name: String,
    pub reason: Reason,
    pub at: DateTime<Utc>,
    pub attended_sessions: i32,
    /// What the policy gives back, in minor units: the sum of the lines.
    pub amount_minor: i64,
    pub currency: String,
    pub in_cooling_off: bool,
    /// `paid`, `already_refunded`, then each rule applied with its figures.
    pub lines: Vec<Line>,
    /// The lines as text, one per step.
    pub explanation: String,
}

/// What a refund of an enrolment would be, and why, under the policy in force at enrolment;
/// changes nothing. `at` and `attended_sessions` ask what-if. A customer asks about their own
/// enrolments (another's is a 404); the desk and services with `refunds:read` about any.
#[utoipa::path(post, path = "/v1/quotes", tag = "policies", request_body = QuoteRequest,
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]),
        ("bearer" = ["service", "refunds:read"])),
    responses((status = 200, body = QuoteResponse), NotFound))]
pub async fn create_quote(
    caller: Principal,
    refunds: web::Data<Refunds>,
    body: web::Json<QuoteRequest>,
) -> Result<web::Json<QuoteResponse>, ApiError> {
    let a = refunds
        .quote(
            &caller,
            &Question {
                enrolment_id: body.enrolment_id,
                reason: &body.reason,
                at: body.at,
                attended_sessions: body.attended_sessions,
            },
        )
        .await?;
    Ok(web::Json(QuoteResponse {
        enrolment_id: a.enrolment.id,
        policy_version: a.policy.version,
        policy_name: a.policy.name,
        reason: a.reason,
        at: a.at,
        attended_sessions: a.attended_sessions,
        amount_minor: a.quote.amount_minor,
        explanation: explain_text(&a.quote),
        currency: a.quote.currency,
        in_cooling_off: a.quote.in_cooling_off,
        lines: a.quote.lines,
    }))
}
