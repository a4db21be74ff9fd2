//! The quality report, computed in SQL.
//!
//! One pass over the period's tickets through `ticket_report_idx` (created_at, with every
//! column the report reads included, so it is an index-only scan), joined to answered
//! surveys; keywords from the same period, sampled on very large periods.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// What a report can be grouped by, and the SQL for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    All,
    Channel,
    Category,
    Agent,
    CustomerRole,
}

impl GroupBy {
    pub fn parse(s: Option<&str>) -> Option<Self> {
        Some(match s {
            None | Some("all") => Self::All,
            Some("channel") => Self::Channel,
            Some("category") => Self::Category,
            Some("agent") => Self::Agent,
            Some("customer_role") => Self::CustomerRole,
            Some(_) => return None,
        })
    }

    fn sql(self) -> &'static str {
        match self {
            Self::All => "'all'",
            Self::Channel => "t.channel",
            Self::Category => "t.category",
            Self::Agent => "coalesce(t.assignee_id, t.resolved_by)::text",
            Self::CustomerRole => "t.customer_role",
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GroupRow {
    pub group_key: Option<String>,
    pub volume: i64,
    pub first_response_p50_secs: Option<f64>,
    pub first_response_p90_secs: Option<f64>,
    pub answered_within_5_min: Option<f64>,
    pub resolution_p50_secs: Option<f64>,
    pub resolution_avg_secs: Option<f64>,
    pub resolution_rate: Option<f64>,
    pub csat_average: Option<f64>,
    pub csat_response_rate: Option<f64>,
    pub deflection_rate: Option<f64>,
    pub reopen_rate: Option<f64>,
    pub within_target_rate: Option<f64>,
}

pub async fn groups(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    by: GroupBy,
) -> Result<Vec<GroupRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {g} AS group_key, count(*) AS volume, \
            percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t.first_response_at - t.created_at)) \
                AS first_response_p50_secs, \
            percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM t.first_response_at - t.created_at)) \
                AS first_response_p90_secs, \
            (count(*) FILTER (WHERE t.first_response_at <= t.created_at + interval '5 minutes'))::float8 \
                / nullif(count(*) FILTER (WHERE NOT t.deflected AND t.status <> 'cancelled'), 0) AS answered_within_5_min, \
            percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t.resolved_at - t.created_at)) \
                AS resolution_p50_secs, \
            avg(extract(epoch FROM t.resolved_at - t.created_at))::float8 AS resolution_avg_secs, \
            (count(t.resolved_at))::float8 / count(*) AS resolution_rate, \
            avg(s.score)::float8 AS csat_average, \
            (count(s.score))::float8 / nullif(count(s.ticket_id), 0) AS csat_response_rate, \
            (count(*) FILTER (WHERE t.deflected))::float8 / count(*) AS deflection_rate, \
            (count(*) FILTER (WHERE t.reopen_count > 0))::float8 / count(*) AS reopen_rate, \
            (count(*) FILTER (WHERE t.resolve_by IS NOT NULL AND t.resolved_at <= t.resolve_by))::float8 \
                / nullif(count(t.resolve_by), 0) AS within_target_rate \
         FROM ticket t LEFT JOIN survey s ON s.ticket_id = t.id \
         WHERE t.created_at >= $1 AND t.created_at < $2 \
         GROUP BY 1 ORDER BY 2 DESC, 1",
        g = by.sql()
    ))
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
}

/// The most frequent keywords of the period; past `sample_above` tickets, counted on a
/// page sample of the table (the counts are then estimates, scaled up). Returns the
/// keywords and whether they were sampled.
pub async fn keywords(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    volume: i64,
    sample_above: i64,
    limit: i64,
) -> Result<(Vec<(String, i64)>, bool), sqlx::Error> {
    let sampled = volume > sample_above;
    let (table, scale) = if sampled {
        // Sample enough pages that about `sample_above` of the period's tickets are read.
        let percent = (100.0 * sample_above as f64 / volume as f64).clamp(0.1, 100.0);
        (
            format!("ticket TABLESAMPLE SYSTEM ({percent}) REPEATABLE (7)"),
            100.0 / percent,
        )
    } else {
        ("ticket".to_owned(), 1.0)
    };
    let rows: Vec<(String, i64)> = sqlx::query_as(&format!(
        "SELECT k, count(*) FROM {table} t, unnest(t.keywords) AS k \
         WHERE t.created_at >= $1 AND t.created_at < $2 GROUP BY k ORDER BY 2 DESC, 1 LIMIT $3"
    ))
    .bind(from)
    .bind(to)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok((
        rows.into_iter()
            .map(|(k, n)| (k, (n as f64 * scale).round() as i64))
            .collect(),
        sampled,
    ))
}

/// The articles that answered most tickets of the period (the most frequent questions).
pub async fn top_articles(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(uuid::Uuid, String, i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.id, a.title, count(*) AS answered, count(*) FILTER (WHERE t.deflected) AS deflected \
         FROM ticket t JOIN kb_article a ON a.id = t.answer_article_id \
         WHERE t.created_at >= $1 AND t.created_at < $2 AND t.answer_article_id IS NOT NULL \
         GROUP BY a.id, a.title ORDER BY 3 DESC, 2 LIMIT $3",
    )
    .bind(from)
    .bind(to)
    .bind(limit)
    .fetch_all(pool)
    .await
}
