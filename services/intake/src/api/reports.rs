//! `/v1/reports/quality`: service quality for supervisors.

use actix_web::web;
use chrono::{DateTime, Utc};
use platform::auth::{Principal, Role};
use platform::error::{Problem, Validator};
use platform::{ApiError, Platform};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::store::reports::{self, GroupBy};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QualityQuery {
    /// Start of the period (inclusive), RFC 3339; default 30 days ago.
    pub from: Option<DateTime<Utc>>,
    /// End of the period (exclusive), RFC 3339; default now.
    pub to: Option<DateTime<Utc>>,
    /// `all` (default), `channel`, `category`, `agent` or `customer_role`.
    pub group_by: Option<String>,
}

/// The figures of one group.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QualityGroup {
    /// The channel, category, agent id or customer role; `all` without grouping; null for
    /// tickets without one (no agent yet, no profile).
    pub key: Option<String>,
    pub volume: i64,
    /// Seconds from opening to the first public staff reply: median and 90th percentile.
    pub first_response_p50_secs: Option<f64>,
    pub first_response_p90_secs: Option<f64>,
    /// Share of tickets handled by people (not deflected, not cancelled) first answered within
    /// 5 minutes (target: 0.9).
    pub answered_within_5_min: Option<f64>,
    pub resolution_p50_secs: Option<f64>,
    pub resolution_avg_secs: Option<f64>,
    /// Share of tickets resolved.
    pub resolution_rate: Option<f64>,
    /// Average survey score (1-5; target 4.5) and share of surveys answered.
    pub csat_average: Option<f64>,
    pub csat_response_rate: Option<f64>,
    /// Share resolved by the automatic answer without a person.
    pub deflection_rate: Option<f64>,
    pub reopen_rate: Option<f64>,
    /// Share of tickets with a resolution target (feedback and suggestions: 48 h) resolved in time.
    pub within_target_rate: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KeywordCount {
    pub keyword: String,
    pub count: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FrequentQuestion {
    pub article_id: Uuid,
    pub title: String,
    /// Tickets this article answered automatically, and of those, resolved without a person.
    pub answered: i64,
    pub deflected: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QualityReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub group_by: String,
    pub groups: Vec<QualityGroup>,
    /// The period's most frequent keywords.
    pub top_keywords: Vec<KeywordCount>,
    /// True when the period was too large to count every ticket's keywords: the counts are
    /// estimated from a sample.
    pub keywords_sampled: bool,
    /// The questions the knowledge base answered most.
    pub frequent_questions: Vec<FrequentQuestion>,
}

/// Keywords are counted exactly up to this many tickets in the period, sampled above.
const KEYWORD_SAMPLE_ABOVE: i64 = 50_000;

/// Service quality over a period (supervisors and admins).
#[utoipa::path(get, path = "/v1/reports/quality", tag = "reports", params(QualityQuery),
    responses((status = 200, body = QualityReport), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn quality(
    caller: Principal,
    platform: web::Data<Platform>,
    query: web::Query<QualityQuery>,
) -> Result<web::Json<QualityReport>, ApiError> {
    caller.require_any(&[Role::Supervisor, Role::Admin])?;
    let to = query.to.unwrap_or_else(Utc::now);
    let from = query.from.unwrap_or(to - chrono::Duration::days(30));
    let by = GroupBy::parse(query.group_by.as_deref());
    let mut v = Validator::new();
    v.check(from < to, "from", "must be before `to`");
    v.check(
        by.is_some(),
        "group_by",
        "must be all, channel, category, agent or customer_role",
    );
    v.finish()?;
    let by = by.unwrap_or(GroupBy::All);
    let rows = reports::groups(&platform.pool, from, to, by).await?;
    let volume: i64 = rows.iter().map(|r| r.volume).sum();
    let (keywords, sampled) = reports::keywords(&platform.pool, from, to, volume, KEYWORD_SAMPLE_ABOVE, 20).await?;
    let questions = reports::top_articles(&platform.pool, from, to, 10).await?;
    Ok(web::Json(QualityReport {
        from,
        to,
        group_by: query.group_by.clone().unwrap_or_else(|| "all".to_owned()),
        groups: rows
            .into_iter()
            .map(|r| QualityGroup {
                key: r.group_key,
                volume: r.volume,
                first_response_p50_secs: r.first_response_p50_secs,
                first_response_p90_secs: r.first_response_p90_secs,
                answered_within_5_min: r.answered_within_5_min,
                resolution_p50_secs: r.resolution_p50_secs,
                resolution_avg_secs: r.resolution_avg_secs,
                resolution_rate: r.resolution_rate,
                csat_average: r.csat_average,
                csat_response_rate: r.csat_response_rate,
                deflection_rate: r.deflection_rate,
                reopen_rate: r.reopen_rate,
                within_target_rate: r.within_target_rate,
            })
            .collect(),
        top_keywords: keywords
            .into_iter()
            .map(|(keyword, count)| KeywordCount { keyword, count })
            .collect(),
        keywords_sampled: sampled,
        frequent_questions: questions
            .into_iter()
            .map(|(article_id, title, answered, deflected)| FrequentQuestion {
                article_id,
                title,
                answered,
                deflected,
            })
            .collect(),
    }))
}
