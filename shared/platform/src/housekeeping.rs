//! Periodic clean-up of the platform's tables: published outbox rows, old idempotency keys,
//! old processed-event records and finished jobs.

use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// How long each kind of row is kept.
pub struct Retention {
    pub outbox_published: Duration,
    pub idempotency_keys: Duration,
    pub processed_events: Duration,
    pub finished_jobs: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            outbox_published: Duration::from_secs(3 * 24 * 3600),
            idempotency_keys: Duration::from_secs(24 * 3600),
            // Longer than any redelivery or parking-queue replay is expected to take.
            processed_events: Duration::from_secs(30 * 24 * 3600),
            finished_jobs: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// Deletes rows past their retention; returns how many.
pub async fn purge(pool: &PgPool, retention: &Retention) -> Result<u64, sqlx::Error> {
    let statements = [
        (
            "DELETE FROM outbox_event WHERE published_at < now() - make_interval(secs => $1)",
            retention.outbox_published,
        ),
        (
            "DELETE FROM idempotency_key WHERE created_at < now() - make_interval(secs => $1)",
            retention.idempotency_keys,
        ),
        (
            "DELETE FROM processed_event WHERE processed_at < now() - make_interval(secs => $1)",
            retention.processed_events,
        ),
        (
            "DELETE FROM scheduled_job WHERE status IN ('done', 'cancelled') AND updated_at < now() - make_interval(secs => $1)",
            retention.finished_jobs,
        ),
    ];
    let mut total = 0;
    for (sql, keep) in statements {
        total += sqlx::query(sql)
            .bind(keep.as_secs_f64())
            .execute(pool)
            .await?
            .rows_affected();
    }
    Ok(total)
}

/// Purges every ten minutes until cancelled.
pub async fn run(pool: PgPool, cancel: CancellationToken) {
    let retention = Retention::default();
    loop {
        match purge(&pool, &retention).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "housekeeping purged old rows"),
            Err(e) => tracing::warn!(error = %e, "housekeeping failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(600)) => {}
            _ = cancel.cancelled() => return,
        }
    }
}
