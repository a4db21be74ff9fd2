//! What readiness reports: the servers a service depends on, which of them it cannot serve
//! without, and background tasks that keep failing; and [`supervise`], which restarts a task
//! that panicked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// A server a service depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dependency {
    Postgres,
    Redis,
    Broker,
}

impl Dependency {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Redis => "redis",
            Self::Broker => "rabbitmq",
        }
    }
}

/// A task restarted this many times within [`FAILING_WINDOW`] counts as failing.
pub const FAILING_RESTARTS: usize = 3;
pub const FAILING_WINDOW: Duration = Duration::from_secs(60);

/// Restarts of the service's background tasks, for readiness.
#[derive(Default)]
pub struct Health {
    restarts: Mutex<HashMap<String, Vec<Instant>>>,
}

impl Health {
    pub fn restarted(&self, task: &str) {
        if let Ok(mut restarts) = self.restarts.lock() {
            let times = restarts.entry(task.to_owned()).or_default();
            times.retain(|t| t.elapsed() < FAILING_WINDOW);
            times.push(Instant::now());
        }
    }

    /// Tasks restarted at least [`FAILING_RESTARTS`] times within the last [`FAILING_WINDOW`].
    pub fn failing(&self) -> Vec<String> {
        let Ok(restarts) = self.restarts.lock() else {
            return Vec::new();
        };
        let mut failing: Vec<String> = restarts
            .iter()
            .filter(|(_, times)| times.iter().filter(|t| t.elapsed() < FAILING_WINDOW).count() >= FAILING_RESTARTS)
            .map(|(task, _)| task.clone())
            .collect();
        failing.sort();
        failing
    }
}

/// Runs the future `make` builds until it returns (the task stopped, e.g. on cancellation);
/// when it panics, counts the restart (`task_restarts_total{task}`, readiness) and runs a new
/// one after a back-off, until `cancel`.
pub async fn supervise<F>(task: String, make: F, cancel: CancellationToken, metrics: Arc<Metrics>, health: Arc<Health>)
where
    F: Fn() -> BoxFuture<'static, ()> + Send + 'static,
{
    let mut delay = Duration::from_millis(100);
    loop {
        match tokio::spawn(make()).await {
            Err(e) if e.is_panic() => {
                metrics.task_restarts.with_label_values(&[task.as_str()]).inc();
                health.restarted(&task);
                tracing::error!(task = %task, restart_in_ms = delay.as_millis() as u64, "background task panicked; restarting it");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = cancel.cancelled() => return,
                }
                delay = (delay * 2).min(Duration::from_secs(30));
            }
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn a_panicking_task_is_restarted_counted_and_reported_failing() {
        let metrics = Arc::new(Metrics::new("test").expect("metrics"));
        let health = Arc::new(Health::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        supervise(
            "relay".into(),
            move || {
                let r = r.clone();
                Box::pin(async move {
                    // Panics three times, then finishes.
                    if r.fetch_add(1, Ordering::SeqCst) < 3 {
                        panic!("boom");
                    }
                })
            },
            CancellationToken::new(),
            metrics.clone(),
            health.clone(),
        )
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 4);
        assert_eq!(metrics.task_restarts.with_label_values(&["relay"]).get(), 3);
        assert_eq!(health.failing(), ["relay"]);
        assert!(metrics.render().contains("task_restarts_total"));
    }

    #[tokio::test]
    async fn a_task_that_panicked_once_is_not_failing() {
        let health = Health::default();
        health.restarted("jobs");
        assert!(health.failing().is_empty());
    }
}
