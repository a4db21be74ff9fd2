//! The quality report's tables: `report_rollup` (one row of figures per day, hour, dimension
//! and key), `report_rollup_state` (how far the rollups vouch for) and `report_stale_day`
//! (days a late change made stale), plus the ticket facts the figures are computed from.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};

use crate::domain::report::Fact;

/// The tickets opened in `[from, to)`, surveys looked up per ticket.
pub async fn facts(pool: &PgPool, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Fact>, sqlx::Error> {
    sqlx::query_as(
        "SELECT extract(hour FROM t.created_at AT TIME ZONE 'UTC')::int AS hour, t.channel, t.category, coalesce(t.assignee_id, t.resolved_by)::text AS agent, t.customer_role, t.status, \
                extract(epoch FROM t.first_response_at - t.created_at)::float8 AS first_response_secs, \
                extract(epoch FROM t.resolved_at - t.created_at)::float8 AS resolution_secs, \
                t.deflected, t.reopen_count, \
                CASE WHEN t.resolve_by IS NOT NULL THEN coalesce(t.resolved_at <= t.resolve_by, false) END AS target_met, \
                coalesce(s.surveyed, false) AS surveyed, s.score, t.keywords, \
                t.answer_article_id::text AS article \
         FROM ticket t \
         LEFT JOIN LATERAL (SELECT true AS surveyed, score FROM survey WHERE survey.ticket_id = t.id) s ON true \
         WHERE t.created_at >= $1 AND t.created_at < $2",
    )
    // Planned for each range (a cached generic plan assumes a large range and scans the table).
    .persistent(false)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
}

/// One rollup row to write: hour (-1 for the whole day), dimension, key and figures (JSON).
pub struct RollupRow {
    pub hour: i16,
    pub dim: String,
    pub key: String,
    pub figures: serde_json::Value,
}

/// Replaces the rollup rows of `day` with `rows`, in one transaction.
pub async fn replace_day(pool: &PgPool, day: NaiveDate, rows: Vec<RollupRow>) -> Result<(), sqlx::Error> {
    let mut hours = Vec::with_capacity(rows.len());
    let mut dims = Vec::with_capacity(rows.len());
    let mut keys = Vec::with_capacity(rows.len());
    let mut figures = Vec::with_capacity(rows.len());
    for r in rows {
        hours.push(r.hour);
        dims.push(r.dim);
        keys.push(r.key);
        figures.push(r.figures);
    }
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM report_rollup WHERE day = $1")
        .bind(day)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO report_rollup (day, hour, dim, key, figures) \
         SELECT $1, h, d, k, f FROM unnest($2::smallint[], $3::text[], $4::text[], $5::jsonb[]) AS u(h, d, k, f)",
    )
    .bind(day)
    .bind(&hours)
    .bind(&dims)
    .bind(&keys)
    .bind(&figures)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Until when the rollups vouch for the figures (none before the first pass).
pub async fn fresh_until(pool: &PgPool) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar("SELECT fresh_until FROM report_rollup_state")
        .fetch_optional(pool)
        .await
}

/// Records until when the rollups vouch for the figures.
pub async fn set_fresh_until(pool: &PgPool, fresh_until: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO report_rollup_state (id, fresh_until) VALUES (true, $1) \
         ON CONFLICT (id) DO UPDATE SET fresh_until = EXCLUDED.fresh_until",
    )
    .bind(fresh_until)
    .execute(pool)
    .await?;
    Ok(())
}

/// Whole-day rollups of `dims` for the days `[first, end)`: `(dim, key, figures as JSON text)`.
pub async fn daily(
    pool: &PgPool,
    dims: &[&str],
    first: NaiveDate,
    end: NaiveDate,
) -> Result<Vec<(String, String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT dim, key, figures::text FROM report_rollup WHERE dim = ANY($1) AND day >= $2 AND day < $3 AND hour = -1",
    )
    .bind(dims)
    .bind(first)
    .bind(end)
    .fetch_all(pool)
    .await
}

/// Every hourly rollup of `dims` on `days`: `(day, hour, dim, key, figures as JSON text)`.
pub async fn hourly(
    pool: &PgPool,
    dims: &[&str],
    days: &[NaiveDate],
) -> Result<Vec<(NaiveDate, i16, String, String, String)>, sqlx::Error> {
    // Equality on the key's leading columns: an index range scan whatever the statistics.
    sqlx::query_as(
        "SELECT day, hour, dim, key, figures::text FROM report_rollup \
         WHERE dim = ANY($1) AND day = ANY($2) AND hour >= 0",
    )
    .bind(dims)
    .bind(days)
    .fetch_all(pool)
    .await
}

/// Takes the session-level advisory lock `key` on `conn` unless another session holds it.
pub async fn try_lock(conn: &mut PgConnection, key: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(key)
        .fetch_one(conn)
        .await
}

/// Releases the advisory lock `key` taken on `conn`.
pub async fn unlock(conn: &mut PgConnection, key: i64) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// The days with tickets but no rollup.
pub async fn days_without_rollup(pool: &PgPool) -> Result<Vec<NaiveDate>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT d FROM (SELECT DISTINCT (created_at AT TIME ZONE 'UTC')::date AS d FROM ticket) t \
         WHERE NOT EXISTS (SELECT 1 FROM report_rollup r WHERE r.dim = 'all' AND r.day = t.d AND r.hour = -1)",
    )
    .fetch_all(pool)
    .await
}

/// The newest entry of the stale-day log, if any.
pub async fn last_stale(pool: &PgPool) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT max(seq) FROM report_stale_day")
        .fetch_one(pool)
        .await
}

/// The days logged stale up to entry `upto`.
pub async fn stale_days(pool: &PgPool, upto: i64) -> Result<Vec<NaiveDate>, sqlx::Error> {
    sqlx::query_scalar("SELECT DISTINCT day FROM report_stale_day WHERE seq <= $1")
        .bind(upto)
        .fetch_all(pool)
        .await
}

/// Forgets the stale-day log up to entry `upto` (those days are refreshed).
pub async fn clear_stale(pool: &PgPool, upto: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM report_stale_day WHERE seq <= $1")
        .bind(upto)
        .execute(pool)
        .await?;
    Ok(())
}

/// Refreshes the planner's statistics of the rollups (after many rows changed at once).
pub async fn analyze(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("ANALYZE report_rollup").execute(pool).await?;
    Ok(())
}
