//! Test harness shared by every service's tests: a fresh PostgreSQL database per test, unique
//! RabbitMQ and Redis names per test, and the environment to start a service against them.
//!
//! Servers are found through `TEST_PG_ADMIN_URL` (default
//! `postgres://postgres:postgres@127.0.0.1:5432/postgres`), `TEST_REDIS_URL` and `TEST_AMQP_URL`.
//! Test databases are named `t_<label>_<id>`; `make test` drops leftovers before each run.

use std::collections::HashMap;

use sqlx::Connection;

pub mod app;
pub mod matrix;
pub mod proxy;
pub mod sinks;

pub use app::{TestApp, env_for, problem_fields, service_token, spawn, start, token, token_for};

pub fn pg_admin_url() -> String {
    std::env::var("TEST_PG_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".to_owned())
}

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

pub fn amqp_url() -> String {
    std::env::var("TEST_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

/// A short random id for names.
pub fn unique_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// Creates an empty database and returns its URL.
pub async fn create_database(label: &str) -> anyhow::Result<String> {
    let name = format!("t_{}_{}", label.replace('-', "_"), unique_id());
    let admin = pg_admin_url();
    let mut conn = sqlx::PgConnection::connect(&admin).await?;
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    Ok(format!("{base}/{name}"))
}

/// Isolated infrastructure names for one test: the bus exchange and the Redis key prefix are
/// unique, so tests can run side by side against the same servers.
#[derive(Debug, Clone)]
pub struct Isolation {
    pub id: String,
    pub exchange: String,
    pub key_prefix: String,
}

impl Isolation {
    pub fn new() -> Self {
        let id = unique_id();
        Self {
            exchange: format!("t.{id}.events"),
            key_prefix: format!("t:{id}"),
            id,
        }
    }

    /// Environment for one service (`prefix` = `INTAKE`) with a fresh database of its own.
    pub async fn service_env(&self, prefix: &str, label: &str) -> anyhow::Result<HashMap<String, String>> {
        let db = create_database(label).await?;
        let mut vars = HashMap::new();
        let mut set = |k: &str, v: String| {
            vars.insert(format!("{prefix}__{k}"), v);
        };
        set("RUNTIME__ENVIRONMENT", "development".into());
        set("HTTP__PORT", "0".into());
        set("HTTP__WORKERS", "1".into());
        set("HTTP__SHUTDOWN_TIMEOUT_SECS", "5".into());
        set("DATABASE__URL", db);
        set("DATABASE__MAX_CONNECTIONS", "5".into());
        set("REDIS__URL", redis_url());
        set("REDIS__KEY_PREFIX", self.key_prefix.clone());
        set("BUS__URL", amqp_url());
        set("BUS__EXCHANGE", self.exchange.clone());
        set("BUS__QUEUE_PREFIX", format!("t.{}.{label}", self.id));
        // One short retry delay: each delay is a queue, and a test run's queues all count
        // against the broker's file handles.
        set("BUS__RETRY_DELAYS_MS", "100".into());
        set("BUS__EPHEMERAL", "true".into());
        // Generous on a loaded test machine (a build and many services on two cores); tests of
        // the timeouts themselves set short ones.
        set("BUS__CONNECT_TIMEOUT_MS", "20000".into());
        set("BUS__PUBLISH_TIMEOUT_MS", "30000".into());
        set("OUTBOX__POLL_INTERVAL_MS", "100".into());
        set("JOBS__POLL_INTERVAL_MS", "100".into());
        set("JOBS__BACKOFF_BASE_MS", "10".into());
        set("JOBS__BACKOFF_MAX_MS", "50".into());
        Ok(vars)
    }
}

impl Default for Isolation {
    fn default() -> Self {
        Self::new()
    }
}

/// Polls `check` every 50 ms until it returns `Some`, or fails after `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if std::time::Instant::now() > deadline {
            anyhow::bail!("timed out after {secs}s waiting for {what}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
