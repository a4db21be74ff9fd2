//! Starting a service in-process for its integration tests: port 0, the test's own database,
//! exchange and key prefix, and helpers to call it.

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::app::{Platform, ServiceSpec};
use crate::auth::{Role, TokenIssuer};
use crate::config::{DEVELOPMENT_JWT_SECRET, Validate};

/// A service running inside the test process.
pub struct TestApp {
    pub url: String,
    pub platform: Platform,
    pub client: reqwest::Client,
    shutdown: CancellationToken,
    stopped: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Builds and starts `spec` with `vars` as its environment (see `testkit::Isolation`).
pub async fn spawn<S: DeserializeOwned + Validate + Send + 'static>(
    spec: &'static ServiceSpec<S>,
    vars: &HashMap<String, String>,
) -> anyhow::Result<TestApp> {
    crate::telemetry::init_for_tests();
    let settings = crate::config::load_from(spec.env_prefix, spec.defaults, vars)?;
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

    /// GETs `path` as the holder of `token` and returns the JSON body (panics if there is none:
    /// for tests).
    #[allow(clippy::expect_used)]
    pub async fn get_json(&self, path: &str, token: &str) -> serde_json::Value {
        self.get(path, token)
            .send()
            .await
            .expect("request sent")
            .json()
            .await
            .expect("a JSON body")
    }

    /// Stops the service as SIGTERM would and waits until it has.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.stopped.await?
    }
}

/// A development-key token for `subject` with `role`.
pub fn token(subject: Uuid, role: Role) -> String {
    TokenIssuer::from_secret(DEVELOPMENT_JWT_SECRET, None, None)
        .issue(subject, &[role], 3600)
        .unwrap_or_default()
}
