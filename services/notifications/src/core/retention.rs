//! Finished deliveries (and their attempts) are deleted after `service.retention_days`, in
//! batches, so the log does not grow without end. Pending and in-flight ones are never touched.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use platform::Task;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::NotificationSettings;

/// Rows deleted per statement.
const BATCH: i64 = 5000;

/// Deletes finished deliveries older than `days` with their attempts; returns how many.
pub async fn purge(pool: &PgPool, days: i64, batch: i64) -> Result<u64, sqlx::Error> {
    let mut total = 0u64;
    loop {
        let n: i64 = sqlx::query_scalar(
            "WITH gone AS ( \
               DELETE FROM delivery WHERE id IN ( \
                 SELECT id FROM delivery WHERE created_at < now() - make_interval(days => $1) \
                   AND status IN ('delivered', 'failed', 'suppressed', 'digested', 'cancelled') \
                 ORDER BY created_at LIMIT $2) \
               RETURNING id), \
             attempts AS (DELETE FROM delivery_attempt WHERE delivery_id IN (SELECT id FROM gone)) \
             SELECT count(*) FROM gone",
        )
        .bind(i32::try_from(days).unwrap_or(i32::MAX))
        .bind(batch)
        .fetch_one(pool)
        .await?;
        total += u64::try_from(n).unwrap_or(0);
        if n < batch {
            return Ok(total);
        }
    }
}

/// Purges once an hour.
pub struct Retention {
    pub pool: PgPool,
    pub settings: Arc<NotificationSettings>,
}

impl Task for Retention {
    fn run(self: Box<Self>, cancel: CancellationToken) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            loop {
                match purge(&self.pool, self.settings.retention_days, BATCH).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(
                        deleted = n,
                        days = self.settings.retention_days,
                        "old deliveries purged"
                    ),
                    Err(e) => tracing::warn!(error = %e, "purging old deliveries failed; trying again later"),
                }
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
                }
            }
        })
    }
}
