//! Finished deliveries (and their attempts) are deleted after `service.retention_days`, in
//! batches, so the log does not grow without end. Pending and in-flight ones are never touched.
//! "Older than" is measured from the clock's time, so a simulation ages the log by moving it.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::store::deliveries;

/// Rows deleted per statement.
pub const BATCH: i64 = 5000;

/// Deletes finished deliveries created more than `days` before `now` (the clock's time) with
/// their attempts, `batch` rows per statement; returns how many.
pub async fn purge(pool: &PgPool, now: DateTime<Utc>, days: i64, batch: i64) -> Result<u64, sqlx::Error> {
    let mut total = 0u64;
    loop {
        let n = deliveries::purge_finished(pool, now, days, batch).await?;
        total += u64::try_from(n).unwrap_or(0);
        if n < batch {
            return Ok(total);
        }
    }
}
