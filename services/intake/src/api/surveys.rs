//! `/v1/surveys` (answered from a signed link, no login) and `/v1/follow-ups` (agents' visits).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use platform::auth::Principal;
use platform::error::{Problem, Validator};
use platform::problems::{Gone, NotFound, Unprocessable};
use platform::{ApiError, Platform};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::core::lifecycle::Lifecycle;
use crate::core::surveys;
use crate::domain::survey::FollowUpStatus;
use crate::store::{self, surveys::FollowUpRow, surveys::SurveyRow};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SurveyResponse {
    pub ticket_id: Uuid,
    /// The ticket's subject, to remind the customer what it was about.
    pub subject: String,
    pub requested_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub score: Option<i16>,
    pub comment: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
}

fn response(s: SurveyRow, subject: String) -> SurveyResponse {
    SurveyResponse {
        ticket_id: s.ticket_id.into(),
        subject,
        requested_at: s.requested_at,
        expires_at: s.expires_at,
        score: s.score,
        comment: s.comment,
        answered_at: s.answered_at,
    }
}

/// The survey a link names (no login: the signed token is the key). A forged token is a 404,
/// an expired one a 410.
#[utoipa::path(get, path = "/v1/surveys/{token}", tag = "surveys", params(("token" = String, Path)), security(()),
    responses((status = 200, body = SurveyResponse), NotFound, Gone))]
pub async fn get_survey(
    platform: web::Data<Platform>,
    lifecycle: web::Data<Lifecycle>,
    path: web::Path<String>,
) -> Result<web::Json<SurveyResponse>, ApiError> {
    let ticket_id = lifecycle.surveys.verify(&path)?;
    let survey = store::surveys::get(&platform.pool, ticket_id)
        .await?
        .ok_or_else(|| ApiError::not_found("survey"))?;
    let subject = store::ticket(&platform.pool, ticket_id)
        .await?
        .map(|t| t.subject)
        .unwrap_or_default();
    Ok(web::Json(response(survey, subject)))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SurveyAnswer {
    /// 1 (very unhappy) to 5 (very happy).
    pub score: i16,
    #[serde(default)]
    pub comment: Option<String>,
}

/// Answer a survey, once.
#[utoipa::path(post, path = "/v1/surveys/{token}", tag = "surveys", params(("token" = String, Path)), security(()),
    request_body = SurveyAnswer,
    responses((status = 201, body = SurveyResponse), NotFound,
              (status = 409, description = "Answered already", body = Problem, content_type = "application/problem+json"),
              Gone))]
pub async fn answer(
    platform: web::Data<Platform>,
    lifecycle: web::Data<Lifecycle>,
    path: web::Path<String>,
    body: web::Json<SurveyAnswer>,
) -> Result<HttpResponse, ApiError> {
    let ticket_id = lifecycle.surveys.verify(&path)?;
    let mut v = Validator::new();
    v.check((1..=5).contains(&body.score), "score", "must be 1 to 5");
    if let Some(c) = &body.comment {
        v.check(c.chars().count() <= 2000, "comment", "at most 2000 characters");
    }
    v.finish()?;
    let comment = body.comment.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let survey = surveys::answer(&platform, ticket_id, body.score, comment).await?;
    let subject = store::ticket(&platform.pool, ticket_id)
        .await?
        .map(|t| t.subject)
        .unwrap_or_default();
    Ok(HttpResponse::Created().json(response(survey, subject)))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FollowUpResponse {
    pub id: Uuid,
    pub ticket_id: Uuid,
    pub due_at: DateTime<Utc>,
    /// `pending`, `done` or `cancelled` (the ticket was reopened).
    pub status: String,
    /// `satisfied`, `still_has_issue` or `unreachable`.
    pub outcome: Option<String>,
    pub note: Option<String>,
    pub done_by: Option<Uuid>,
    pub done_at: Option<DateTime<Utc>>,
}

impl From<FollowUpRow> for FollowUpResponse {
    fn from(f: FollowUpRow) -> Self {
        Self {
            id: f.id,
            ticket_id: f.ticket_id.into(),
            due_at: f.due_at,
            status: f.status.as_str().to_owned(),
            outcome: f.outcome,
            note: f.note,
            done_by: f.done_by,
            done_at: f.done_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FollowUpListResponse {
    pub items: Vec<FollowUpResponse>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FollowUpQuery {
    /// `pending` (default), `done` or `cancelled`.
    pub status: Option<String>,
    /// Only those due by now (the day's worklist).
    #[serde(default)]
    pub due: bool,
    /// 1-200, default 50.
    pub limit: Option<i64>,
}

/// Follow-up visits (回访), soonest due first (the desk).
#[utoipa::path(get, path = "/v1/follow-ups", tag = "surveys", params(FollowUpQuery),
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"])),
    responses((status = 200, body = FollowUpListResponse), Unprocessable))]
pub async fn follow_ups(
    platform: web::Data<Platform>,
    query: web::Query<FollowUpQuery>,
) -> Result<web::Json<FollowUpListResponse>, ApiError> {
    let status = query
        .status
        .as_deref()
        .map_or(Some(FollowUpStatus::Pending), FollowUpStatus::parse);
    let limit = query.limit.unwrap_or(50);
    let mut v = Validator::new();
    v.check(status.is_some(), "status", "must be pending, done or cancelled");
    v.check((1..=200).contains(&limit), "limit", "must be 1 to 200");
    v.finish()?;
    let status = status.unwrap_or(FollowUpStatus::Pending);
    let items = store::surveys::follow_ups(&platform.pool, status, query.due.then(|| platform.clock.now()), limit)
        .await?
        .into_iter()
        .map(FollowUpResponse::from)
        .collect();
    Ok(web::Json(FollowUpListResponse { items }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUpOutcome {
    /// `satisfied`, `still_has_issue` (reopens a resolved ticket) or `unreachable`.
    pub outcome: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// Record a follow-up visit's outcome (the desk). `still_has_issue` reopens the ticket when it
/// is still resolved.
#[utoipa::path(post, path = "/v1/follow-ups/{follow_up_id}", tag = "surveys", params(("follow_up_id" = Uuid, Path)),
    request_body = FollowUpOutcome,
    security(("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"])),
    responses((status = 200, body = FollowUpResponse), NotFound,
              (status = 409, description = "Not pending", body = Problem, content_type = "application/problem+json")))]
pub async fn record_follow_up(
    caller: Principal,
    platform: web::Data<Platform>,
    lifecycle: web::Data<Lifecycle>,
    path: web::Path<Uuid>,
    body: web::Json<FollowUpOutcome>,
) -> Result<web::Json<FollowUpResponse>, ApiError> {
    let mut v = Validator::new();
    v.check(
        ["satisfied", "still_has_issue", "unreachable"].contains(&body.outcome.as_str()),
        "outcome",
        "must be satisfied, still_has_issue or unreachable",
    );
    if let Some(n) = &body.note {
        v.check(n.chars().count() <= 5000, "note", "at most 5000 characters");
    }
    v.finish()?;
    let done = surveys::record_follow_up(
        &platform,
        &lifecycle,
        path.into_inner(),
        &body.outcome,
        body.note.as_deref(),
        caller.subject,
    )
    .await?;
    Ok(web::Json(done.into()))
}
