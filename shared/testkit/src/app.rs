//! A service started in-process for its integration tests: port 0, the test's own database,
//! exchange and key prefix (see [`Isolation`](crate::Isolation)), and typed helpers to call it.
//! Helpers panic on transport failures: they are for tests.
#![allow(clippy::expect_used)]

use std::collections::HashMap;

use contracts::{Event, EventEnvelope};
use platform::auth::{Principal, Role, TokenIssuer};
use platform::bus::Outgoing;
use platform::config::{DEVELOPMENT_JWT_SECRET, Validate};
use platform::{Platform, ServiceSpec};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// A service running inside the test process.
pub struct TestApp {
    pub url: String,
    pub platform: Platform,
    pub client: reqwest::Client,
    shutdown: CancellationToken,
    stopped: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Builds and starts `spec` with `vars` as its whole environment.
pub async fn spawn<S: DeserializeOwned + Validate + Send + 'static>(
    spec: &'static ServiceSpec<S>,
    vars: &HashMap<String, String>,
) -> anyhow::Result<TestApp> {
    platform::telemetry::init_for_tests();
    let settings = platform::config::load_from(spec.env_prefix, spec.defaults, spec.list_keys, vars)?;
    let app = (spec.build)(settings).await?;
    let url = format!("http://127.0.0.1:{}", app.port());
    let platform = app.platform().clone();
    let shutdown = app.shutdown_token();
    let stopped = tokio::spawn(app.run_until_stopped());
    Ok(TestApp {
        url,
        platform,
        client: reqwest::Client::new(),
        shutdown,
        stopped,
    })
}

/// A fresh isolated environment for `spec` (its own database, exchange and key prefix) with
/// `settings` laid over it. A key may be written with or without the service's prefix
/// (`SERVICE__IDLE_POLL_MS` or `NOTIFICATIONS__SERVICE__IDLE_POLL_MS`). Spawn the same
/// environment twice for two replicas.
pub async fn env_for<S>(spec: &'static ServiceSpec<S>, settings: &[(&str, &str)]) -> HashMap<String, String> {
    let label = spec.name.replace('-', "_");
    let mut vars = crate::Isolation::new()
        .service_env(spec.env_prefix, &label)
        .await
        .expect("a test environment");
    let prefix = format!("{}__", spec.env_prefix);
    for (key, value) in settings {
        let key = if key.starts_with(&prefix) {
            (*key).to_owned()
        } else {
            format!("{prefix}{key}")
        };
        vars.insert(key, (*value).to_owned());
    }
    vars
}

/// Starts `spec` in a fresh isolated environment with `settings` overridden (see [`env_for`]).
pub async fn start<S: DeserializeOwned + Validate + Send + 'static>(
    spec: &'static ServiceSpec<S>,
    settings: &[(&str, &str)],
) -> TestApp {
    spawn(spec, &env_for(spec, settings).await)
        .await
        .expect("the service starts")
}

/// A development-key token for `subject` with `role`.
pub fn token(subject: Uuid, role: Role) -> String {
    token_for(&Principal::new(subject, &[role]))
}

/// A development-key token for `principal` (roles, staff functions, scopes).
pub fn token_for(principal: &Principal) -> String {
    TokenIssuer::from_secret(DEVELOPMENT_JWT_SECRET, None, None)
        .issue_for(principal, 3600)
        .unwrap_or_default()
}

/// A development-key token for a service holding `scopes`.
pub fn service_token(subject: Uuid, scopes: &[&str]) -> String {
    token_for(&Principal::new(subject, &[Role::Service]).with_scopes(scopes))
}

/// The field names of a problem's `errors`, in order.
pub fn problem_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

impl TestApp {
    /// A token for `subject` with `role`, signed with the development key.
    pub fn token(&self, subject: Uuid, role: Role) -> String {
        token(subject, role)
    }

    pub fn get(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.client.get(format!("{}{path}", self.url)).bearer_auth(token)
    }

    pub fn post(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.client.post(format!("{}{path}", self.url)).bearer_auth(token)
    }

    pub fn put(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.client.put(format!("{}{path}", self.url)).bearer_auth(token)
    }

    pub fn delete(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.client.delete(format!("{}{path}", self.url)).bearer_auth(token)
    }

    /// GETs `path` as the holder of `token`; the JSON body (`null` when there is none).
    pub async fn get_json(&self, path: &str, token: &str) -> Value {
        send(self.get(path, token)).await.1
    }

    /// GETs `path`; the status and the JSON body (`null` when there is none).
    pub async fn get_status(&self, path: &str, token: &str) -> (u16, Value) {
        send(self.get(path, token)).await
    }

    /// POSTs `body` as JSON; the status and the JSON body (`null` when there is none).
    pub async fn post_json(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        send(self.post(path, token).json(body)).await
    }

    /// PUTs `body` as JSON; the status and the JSON body (`null` when there is none).
    pub async fn put_json(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        send(self.put(path, token).json(body)).await
    }

    /// DELETEs `path`; the status and the JSON body (`null` when there is none).
    pub async fn delete_json(&self, path: &str, token: &str) -> (u16, Value) {
        send(self.delete(path, token)).await
    }

    /// Publishes `envelope` onto the service's exchange, as its producer would.
    pub async fn publish<T: Event + Serialize>(&self, envelope: &EventEnvelope<T>) {
        let body = serde_json::to_vec(envelope).expect("an envelope serializes");
        self.publish_bytes(T::TYPE, &body, Default::default()).await;
    }

    /// Publishes a raw JSON envelope under `event_type` (for malformed or foreign events).
    pub async fn publish_value(&self, event_type: &str, envelope: &Value) {
        let body = serde_json::to_vec(envelope).expect("JSON serializes");
        self.publish_bytes(event_type, &body, Default::default()).await;
    }

    /// Publishes `body` under `event_type` with AMQP `headers`.
    pub async fn publish_bytes(
        &self,
        event_type: &str,
        body: &[u8],
        headers: std::collections::BTreeMap<String, platform::bus::HeaderValue>,
    ) {
        self.platform
            .bus
            .publish_confirmed(&[Outgoing {
                exchange: self.platform.bus.exchange(),
                routing_key: event_type,
                body,
                message_id: None,
                headers,
            }])
            .await
            .expect("the broker confirms the publish");
    }

    /// The `bigint` a counting query returns, against the service's own database.
    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.platform.pool)
            .await
            .expect("the count query runs")
    }

    /// Stops the service as SIGTERM would and waits until it has.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.stopped.await?
    }
}

/// Sends `request`, retrying once when a kept-alive connection was closed under it (the server
/// of a previous test step may have closed it).
async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let retry = request.try_clone();
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => match retry {
            Some(again) if e.is_request() || e.is_connect() => again.send().await.expect("request sent"),
            _ => panic!("request failed: {e}"),
        },
    };
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("a body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    (status, body)
}
