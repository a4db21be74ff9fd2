//! The service's background loops: the dispatchers that send due deliveries (woken by new
//! writes, else polling) and the hourly retention purge. Each round is one call into core.

use std::time::Duration;

use futures_util::future::BoxFuture;
use platform::{Clock, Task};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::core::dispatch::Dispatcher;
use crate::core::retention;

/// `loops` dispatchers sharing one [`Dispatcher`]; each sleeps up to `idle` when there is
/// nothing due.
pub struct Dispatch {
    pub dispatcher: Dispatcher,
    pub loops: usize,
    pub idle: Duration,
}

impl Task for Dispatch {
    fn run(self: std::sync::Arc<Self>, cancel: CancellationToken) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..self.loops {
                set.spawn(run_loop(self.dispatcher.clone(), self.idle, cancel.clone()));
            }
            while set.join_next().await.is_some() {}
        })
    }
}

async fn run_loop(dispatcher: Dispatcher, idle: Duration, cancel: CancellationToken) {
    let waker = dispatcher.waker();
    let mut backoff = Duration::from_millis(200);
    loop {
        if cancel.is_cancelled() {
            return;
        }
        // Register for a wake-up before looking, so a write in between is not missed.
        let notified = waker.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        match dispatcher.run_once().await {
            Ok(n) if n > 0 => {
                backoff = Duration::from_millis(200);
                continue;
            }
            Ok(_) => {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = &mut notified => {}
                    _ = tokio::time::sleep(idle) => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), retry_in_ms = backoff.as_millis() as u64, "dispatch failed");
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// Purges finished deliveries older than `days` by `clock`, once an hour (real time).
pub struct Retention {
    pub pool: PgPool,
    pub clock: Clock,
    pub days: i64,
}

impl Task for Retention {
    fn run(self: std::sync::Arc<Self>, cancel: CancellationToken) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            loop {
                match retention::purge(&self.pool, self.clock.now(), self.days, retention::BATCH).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, days = self.days, "old deliveries purged"),
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
