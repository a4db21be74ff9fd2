//! `/v1/reports/quality`: service quality for supervisors.

use actix_web::web;
use chrono::{DateTime, Utc};
use contracts::ArticleId;
use platform::error::Validator;
use platform::problems::Unprocessable;
use platform::{ApiError, Platform};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::core::reports;
use crate::domain::report::{self, Figures};
use crate::store;

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
    /// Seconds from opening to the first public staff reply: median and 90th percentile
    /// (within ±2.5%).
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
    /// The questions the knowledge base answered most.
    pub frequent_questions: Vec<FrequentQuestion>,
}

/// Service quality over a period (supervisors and admins).
///
/// Whole UTC days come from rollups refreshed every `report_rollup_interval_secs`; partial
/// days at the period's edges are computed from the tickets. Percentiles are read from 5%-wide
/// histogram buckets.
#[utoipa::path(get, path = "/v1/reports/quality", tag = "reports", params(QualityQuery),
    security(("bearer" = ["supervisor"]), ("bearer" = ["admin"])),
    responses((status = 200, body = QualityReport), Unprocessable))]
pub async fn quality(
    platform: web::Data<Platform>,
    query: web::Query<QualityQuery>,
) -> Result<web::Json<QualityReport>, ApiError> {
    let to = query.to.unwrap_or_else(|| platform.clock.now());
    let from = query.from.unwrap_or(to - chrono::Duration::days(30));
    let dim = query.group_by.clone().unwrap_or_else(|| "all".to_owned());
    let mut v = Validator::new();
    v.check(from < to, "from", "must be before `to`");
    v.check(
        report::DIMENSIONS.contains(&dim.as_str()),
        "group_by",
        "must be all, channel, category, agent or customer_role",
    );
    v.finish()?;
    let (by_key, total) = reports::figures(&platform.pool, from, to, &dim)
        .await
        .map_err(ApiError::internal)?;
    let mut groups: Vec<QualityGroup> = by_key
        .into_iter()
        .map(|(key, f)| {
            group(
                if dim == "all" {
                    Some("all".to_owned())
                } else {
                    (!key.is_empty()).then_some(key)
                },
                &f,
            )
        })
        .collect();
    groups.sort_by(|a, b| b.volume.cmp(&a.volume).then(a.key.cmp(&b.key)));
    let mut keywords: Vec<(String, u64)> = total.keywords.clone().into_iter().collect();
    keywords.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut articles: Vec<(String, [u64; 2])> = total.articles.clone().into_iter().collect();
    articles.sort_by(|a, b| b.1[0].cmp(&a.1[0]).then(a.0.cmp(&b.0)));
    articles.truncate(10);
    let ids: Vec<ArticleId> = articles.iter().filter_map(|(id, _)| id.parse().ok()).collect();
    let titles: std::collections::HashMap<ArticleId, String> =
        store::kb::titles(&platform.pool, &ids).await?.into_iter().collect();
    Ok(web::Json(QualityReport {
        from,
        to,
        group_by: dim,
        groups,
        top_keywords: keywords
            .into_iter()
            .take(20)
            .map(|(keyword, count)| KeywordCount {
                keyword,
                count: i64::try_from(count).unwrap_or(i64::MAX),
            })
            .collect(),
        frequent_questions: articles
            .into_iter()
            .filter_map(|(id, [answered, deflected])| {
                let article_id: ArticleId = id.parse().ok()?;
                Some(FrequentQuestion {
                    article_id: article_id.into(),
                    title: titles.get(&article_id).cloned().unwrap_or_default(),
                    answered: i64::try_from(answered).unwrap_or(i64::MAX),
                    deflected: i64::try_from(deflected).unwrap_or(i64::MAX),
                })
            })
            .collect(),
    }))
}

fn group(key: Option<String>, f: &Figures) -> QualityGroup {
    QualityGroup {
        key,
        volume: i64::try_from(f.volume).unwrap_or(i64::MAX),
        first_response_p50_secs: report::quantile(&f.first_response, 0.5),
        first_response_p90_secs: report::quantile(&f.first_response, 0.9),
        answered_within_5_min: f.answered_within_5_min(),
        resolution_p50_secs: report::quantile(&f.resolution, 0.5),
        resolution_avg_secs: f.resolution_avg_secs(),
        resolution_rate: f.resolution_rate(),
        csat_average: f.csat_average(),
        csat_response_rate: f.csat_response_rate(),
        deflection_rate: f.deflection_rate(),
        reopen_rate: f.reopen_rate(),
        within_target_rate: f.within_target_rate(),
    }
}
