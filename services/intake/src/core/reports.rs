//! The quality report: figures per channel, category, agent or customer role over any period,
//! fast on millions of tickets.
//!
//! Whole UTC days come from `report_rollup` (one row of [`Figures`] per day, dimension and
//! key, recomputed by [`Rollups`]); the partial days at the edges of a period are computed
//! from the tickets themselves. Figures merge by addition (see `domain/report.rs`).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::future::BoxFuture;
use platform::Task;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::domain::report::{self, Figures};
use crate::store::reports::{self as store, RollupRow};

/// Recomputes one day's rollup rows: the whole day (`hour` -1) and each hour.
pub async fn refresh_day(pool: &PgPool, day: NaiveDate) -> anyhow::Result<()> {
    let from = report::day_start(day);
    let facts = store::facts(pool, from, from + chrono::Duration::days(1)).await?;
    let rows = report::day_rollups(facts)
        .into_iter()
        .map(|(hour, dim, key, f)| {
            Ok(RollupRow {
                hour,
                dim: dim.to_owned(),
                key,
                figures: serde_json::to_value(f)?,
            })
        })
        .collect::<Result<Vec<_>, serde_json::Error>>()?;
    store::replace_day(pool, day, rows).await?;
    Ok(())
}

/// The figures of `[from, to)` by `dim` (and in total): rollups for whole days and hours,
/// tickets for the rest.
pub async fn figures(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    dim: &str,
) -> anyhow::Result<(BTreeMap<String, Figures>, Figures)> {
    let fresh_until = store::fresh_until(pool).await?;
    let split = fresh_until.map_or(from, |f| f.clamp(from, to));
    let mut p = report::plan(from, split);
    if split < to {
        p.raw.push((split, to));
    }
    let started = std::time::Instant::now();
    let dims = if dim == "all" { vec!["all"] } else { vec!["all", dim] };
    let mut by_key: BTreeMap<String, Figures> = BTreeMap::new();
    let mut total = Figures::default();
    let mut add = |d: &str, key: String, f: &Figures| {
        if d == "all" {
            total.merge(f);
        }
        if d == dim {
            by_key.entry(key).or_default().merge(f);
        }
    };
    if let Some((first, end)) = p.days {
        for (d, key, text) in store::daily(pool, &dims, first, end).await? {
            add(&d, key, &serde_json::from_str(&text)?);
        }
    }
    let days_ms = started.elapsed().as_millis();
    if !p.hours.is_empty() {
        let wanted: std::collections::HashSet<(NaiveDate, i16)> =
            p.hours.iter().map(|h| report::day_and_hour(*h)).collect();
        let mut days: Vec<NaiveDate> = wanted.iter().map(|(d, _)| *d).collect();
        days.sort();
        days.dedup();
        for (day, hour, d, key, text) in store::hourly(pool, &dims, &days).await? {
            if wanted.contains(&(day, hour)) {
                add(&d, key, &serde_json::from_str(&text)?);
            }
        }
    }
    let hours_ms = started.elapsed().as_millis() - days_ms;
    let mut raw_tickets = 0;
    for (a, b) in p.raw {
        let rows = store::facts(pool, a, b).await?;
        raw_tickets += rows.len();
        for ((d, key), f) in report::aggregate(&rows) {
            add(d, key, &f);
        }
    }
    tracing::info!(
        days_ms,
        hours_ms,
        raw_ms = started.elapsed().as_millis() - days_ms - hours_ms,
        raw_tickets,
        hours = p.hours.len(),
        "quality report figures"
    );
    Ok((by_key, total))
}

/// Keeps the rollups current: today and yesterday on every pass, older days when a change
/// logged them stale, and every day with tickets but no rollup once at start. One replica at a
/// time (an advisory lock); the others skip the pass.
pub struct Rollups {
    pub pool: PgPool,
    /// The service's clock: tickets are stamped with it, so "today" and the freshness mark are
    /// read from it too (the pass is paced by real time, `interval`).
    pub clock: platform::Clock,
    pub interval: Duration,
}

const LOCK_KEY: i64 = 0x7265_706f_7274; // "report"

/// How long a ticket transaction may take between stamping `created_at` and committing.
const FRESHNESS_MARGIN_SECS: i64 = 10;

impl Rollups {
    /// One pass; returns the days refreshed (none when another replica holds the lock).
    pub async fn pass(&self, backfill: bool) -> anyhow::Result<usize> {
        let mut lock = self.pool.acquire().await?;
        if !store::try_lock(&mut lock, LOCK_KEY).await? {
            return Ok(0);
        }
        let result = self.refresh(backfill).await;
        store::unlock(&mut lock, LOCK_KEY).await?;
        result
    }

    async fn refresh(&self, backfill: bool) -> anyhow::Result<usize> {
        // Tickets still in flight when the pass begins may commit with an earlier creation
        // time: the rollups vouch only for what is a little older.
        let now = self.clock.now();
        let fresh_until = now - chrono::Duration::seconds(FRESHNESS_MARGIN_SECS);
        let today = now.date_naive();
        let mut days = vec![today, today - chrono::Duration::days(1)];
        if backfill {
            let missing = store::days_without_rollup(&self.pool).await?;
            if !missing.is_empty() {
                tracing::info!(
                    days = missing.len(),
                    "building quality-report rollups for days without one"
                );
            }
            days.extend(missing);
        }
        let upto = store::last_stale(&self.pool).await?;
        if let Some(upto) = upto {
            days.extend(store::stale_days(&self.pool, upto).await?);
        }
        days.sort();
        days.dedup();
        for day in &days {
            refresh_day(&self.pool, *day).await?;
        }
        if days.len() > 7 {
            // Many rows changed at once (a backfill): keep the planner's picture current.
            store::analyze(&self.pool).await?;
        }
        if let Some(upto) = upto {
            store::clear_stale(&self.pool, upto).await?;
        }
        store::set_fresh_until(&self.pool, fresh_until).await?;
        Ok(days.len())
    }
}

impl Task for Rollups {
    fn run(self: std::sync::Arc<Self>, cancel: CancellationToken) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let mut backfill = true;
            loop {
                match self.pass(backfill).await {
                    Ok(_) => backfill = false,
                    Err(e) => tracing::warn!(error = %format!("{e:#}"), "report rollup pass failed; will retry"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(self.interval) => {}
                    _ = cancel.cancelled() => return,
                }
            }
        })
    }
}
