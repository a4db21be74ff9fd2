//! A running service: its connections ([`Platform`](crate::platform::Platform)), its HTTP server and its background tasks
//! (outbox relay, consumers, job runner, housekeeping), started together and stopped in order.

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use futures_util::future::BoxFuture;
use sqlx::migrate::Migrator;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bus::consumer::{Consumer, EventHandler};
use crate::bus::topology::ConsumerQueues;
use crate::config::Settings;
use crate::health::supervise;
use crate::http::Api;
use crate::platform::Platform;

/// What `main` and the test harness need to know about a service.
pub struct ServiceSpec<S: 'static> {
    pub name: &'static str,
    /// Environment variable prefix (`INTAKE` for `INTAKE__DATABASE__URL`).
    pub env_prefix: &'static str,
    /// The service's embedded `config/default.toml`, layered over the common defaults.
    pub defaults: &'static str,
    /// The service's own settings that an environment variable gives as a comma-separated list
    /// (`service.event_patterns`); the kernel's are known already.
    pub list_keys: &'static [&'static str],
    pub migrations: &'static Migrator,
    pub build: fn(Settings<S>) -> BoxFuture<'static, anyhow::Result<Application>>,
}

/// A background task the application runs until shutdown.
pub trait Task: Send + Sync + 'static {
    /// Prepares what must exist before the service reports ready (queues, bindings).
    fn prepare(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async { Ok(()) })
    }
    /// Runs until `cancel`. Called again if the task panicked (see [`supervise`]), so each
    /// call starts afresh from what `self` holds.
    fn run(self: Arc<Self>, cancel: CancellationToken) -> BoxFuture<'static, ()>;

    /// The task's name in logs and in `task_restarts_total{task}`.
    fn name(&self) -> String {
        let full = std::any::type_name::<Self>();
        full.rsplit("::").next().unwrap_or(full).to_owned()
    }

    /// The queues it consumes, if it is a consumer (for the parking-queue admin API).
    fn consumer_queues(&self) -> Option<(String, ConsumerQueues)> {
        None
    }
}

impl<H: EventHandler> Task for Consumer<H> {
    fn prepare(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(self.declare())
    }

    fn run(self: Arc<Self>, cancel: CancellationToken) -> BoxFuture<'static, ()> {
        Box::pin(Consumer::clone(&self).run(cancel))
    }

    fn name(&self) -> String {
        format!("consumer:{}", Consumer::name(self))
    }

    fn consumer_queues(&self) -> Option<(String, ConsumerQueues)> {
        Some((self.name().to_owned(), self.queues().clone()))
    }
}

/// The service, built and listening, not yet running.
pub struct Application {
    port: u16,
    server: Server,
    platform: Platform,
    tasks: Vec<Box<dyn Task>>,
    cancel: CancellationToken,
    shutdown_timeout: Duration,
}

impl Application {
    /// Binds the HTTP server and prepares the background tasks (consumers declare their
    /// queues now, so events published once this returns reach them).
    pub async fn build<S>(
        platform: Platform,
        settings: &Settings<S>,
        api: Api,
        tasks: Vec<Box<dyn Task>>,
    ) -> anyhow::Result<Self> {
        for task in &tasks {
            task.prepare().await?;
        }
        let consumers = tasks.iter().filter_map(|t| t.consumer_queues()).collect();
        let (server, port) = crate::http::serve(&platform, &settings.http, api, consumers)?;
        Ok(Self {
            port,
            server,
            platform,
            tasks,
            cancel: CancellationToken::new(),
            shutdown_timeout: Duration::from_secs(settings.http.shutdown_timeout_secs),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    /// Cancelling this token stops the application as SIGTERM would.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Runs until SIGTERM/SIGINT or the shutdown token, then stops in order: stop accepting
    /// requests and finish those in flight; stop consumers after the message in hand; relay
    /// what is left in the outbox; close the broker and the pool. The relay, the job runner
    /// and housekeeping are restarted if they panic (see [`supervise`]).
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let tracker = TaskTracker::new();
        let platform = self.platform;
        let supervised = |task: &str, make: Box<dyn Fn() -> BoxFuture<'static, ()> + Send>| {
            supervise(
                task.to_owned(),
                make,
                self.cancel.clone(),
                platform.metrics.clone(),
                platform.health.clone(),
            )
        };
        let (outbox, cancel) = (platform.outbox.clone(), self.cancel.clone());
        tracker.spawn(supervised(
            "outbox-relay",
            Box::new(move || Box::pin(outbox.clone().run(cancel.clone()))),
        ));
        let (jobs, cancel) = (platform.jobs.clone(), self.cancel.clone());
        tracker.spawn(supervised(
            "job-runner",
            Box::new(move || Box::pin(jobs.clone().run(cancel.clone()))),
        ));
        let (pool, cancel) = (platform.pool.clone(), self.cancel.clone());
        tracker.spawn(supervised(
            "housekeeping",
            Box::new(move || Box::pin(crate::housekeeping::run(pool.clone(), cancel.clone()))),
        ));
        for task in self.tasks {
            let task: Arc<dyn Task> = Arc::from(task);
            let name = task.name();
            let cancel = self.cancel.clone();
            tracker.spawn(supervised(&name, Box::new(move || task.clone().run(cancel.clone()))));
        }
        tracker.close();
        let handle = self.server.handle();
        let mut server = tokio::spawn(self.server);
        tracing::info!(service = platform.service, port = self.port, "started");
        let server_result = tokio::select! {
            _ = shutdown_signal() => None,
            _ = self.cancel.cancelled() => None,
            r = &mut server => Some(r),
        };
        tracing::info!(service = platform.service, "shutting down");
        if server_result.is_none() {
            handle.stop(true).await;
            let _ = server.await;
        }
        self.cancel.cancel();
        if tokio::time::timeout(self.shutdown_timeout, tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("background tasks did not stop in time");
        }
        platform.bus.close().await;
        platform.pool.close().await;
        tracing::info!(service = platform.service, "stopped");
        match server_result {
            Some(Ok(Err(e))) => Err(e.into()),
            Some(Err(e)) => Err(e.into()),
            _ => Ok(()),
        }
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => std::future::pending::<()>().await,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
