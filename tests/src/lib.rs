//! Starts the five services as separate processes against the local PostgreSQL, Redis and
//! RabbitMQ, each with a fresh database and the run's own exchange and key prefix.
//!
//! Binaries are taken from `SYSTEM_TEST_BIN_DIR`, else `target/debug` of this workspace (build
//! them first: `cargo build --workspace --bins`, which `make test` does).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
pub use testkit::token;
use tokio::process::{Child, Command};

/// Name, environment prefix and database label of each service.
pub const SERVICES: [(&str, &str); 5] = [
    ("intake", "INTAKE"),
    ("routing", "ROUTING"),
    ("refund", "REFUND"),
    ("training-scheduling", "TRAINING_SCHEDULING"),
    ("notifications", "NOTIFICATIONS"),
];

pub fn bin_dir() -> PathBuf {
    match std::env::var_os("SYSTEM_TEST_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug"),
    }
}

fn log_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/system-logs")
}

/// One service process and how to start it again.
pub struct Service {
    pub name: &'static str,
    pub url: String,
    env: HashMap<String, String>,
    child: Option<Child>,
}

impl Service {
    async fn start(&mut self) -> anyhow::Result<()> {
        let bin = bin_dir().join(self.name);
        anyhow::ensure!(
            bin.exists(),
            "{} is missing: run `cargo build --workspace --bins` first",
            bin.display()
        );
        std::fs::create_dir_all(log_dir())?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_dir().join(format!("{}.log", self.name)))?;
        let child = Command::new(&bin)
            .envs(&self.env)
            .env(
                "RUST_LOG",
                std::env::var("SYSTEM_TEST_LOG").unwrap_or_else(|_| "info,sqlx=warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()?;
        self.child = Some(child);
        Ok(())
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                Command::new("kill").arg("-TERM").arg(pid.to_string()).status().await?;
            }
            let status = tokio::time::timeout(Duration::from_secs(30), child.wait()).await??;
            anyhow::ensure!(status.success(), "{} exited with {status}", self.name);
        }
        Ok(())
    }

    /// Kills the process with SIGKILL (a crash: nothing is finished or flushed) and waits for it.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.start_kill()?;
            child.wait().await?;
        }
        Ok(())
    }

    /// Stops the process if it runs, starts it again with the same environment and waits until
    /// it is ready.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop().await?;
        self.start().await?;
        wait_ready(&self.url, self.name).await
    }

    /// A setting of this service's environment (`DATABASE__URL`), without the prefix.
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k.split_once("__").is_some_and(|(_, rest)| rest == key))
            .map(|(_, v)| v.as_str())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }
}

/// The running platform.
pub struct Stack {
    pub services: Vec<Service>,
    pub client: reqwest::Client,
    /// At most two stacks run at once: five processes each, on a small machine.
    _turn: tokio::sync::OwnedSemaphorePermit,
}

fn turns() -> Arc<tokio::sync::Semaphore> {
    static TURNS: std::sync::OnceLock<Arc<tokio::sync::Semaphore>> = std::sync::OnceLock::new();
    TURNS.get_or_init(|| Arc::new(tokio::sync::Semaphore::new(2))).clone()
}

impl Stack {
    /// Starts all five services and waits until each answers `/readyz` with 200; `extra_env`
    /// keys (without the service prefix) go to every service.
    pub async fn start(extra_env: &[(&str, &str)]) -> anyhow::Result<Self> {
        Self::start_with(extra_env, &[]).await
    }

    /// [`Stack::start`], with `(service, key, value)` settings for one service each.
    pub async fn start_with(extra_env: &[(&str, &str)], per_service: &[(&str, &str, &str)]) -> anyhow::Result<Self> {
        let turn = turns().acquire_owned().await?;
        let iso = testkit::Isolation::new();
        let mut services = Vec::new();
        for (name, prefix) in SERVICES {
            let mut env = iso.service_env(prefix, name).await?;
            let port = free_port()?;
            env.insert(format!("{prefix}__HTTP__PORT"), port.to_string());
            env.insert(format!("{prefix}__HTTP__WORKERS"), "2".into());
            env.insert(format!("{prefix}__BUS__QUEUE_PREFIX"), format!("t.{}.{name}", iso.id));
            for (k, v) in extra_env {
                env.insert(format!("{prefix}__{k}"), (*v).to_owned());
            }
            for (service, k, v) in per_service {
                if *service == name {
                    env.insert(format!("{prefix}__{k}"), (*v).to_owned());
                }
            }
            services.push(Service {
                name,
                url: format!("http://127.0.0.1:{port}"),
                env,
                child: None,
            });
        }
        for s in &mut services {
            s.start().await?;
        }
        for s in &services {
            wait_ready(&s.url, s.name).await?;
        }
        Ok(Self {
            services,
            client: reqwest::Client::new(),
            _turn: turn,
        })
    }

    pub fn service(&mut self, name: &str) -> &mut Service {
        self.services
            .iter_mut()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no service {name}"))
    }

    pub fn url(&self, name: &str) -> String {
        self.services
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.url.clone())
            .unwrap_or_default()
    }

    /// Starts one more process of `name` with the same settings on its own port (another
    /// replica); its URL.
    pub async fn add_replica(&mut self, name: &str) -> anyhow::Result<String> {
        let first = self
            .services
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| anyhow::anyhow!("no service {name}"))?;
        let mut env = first.env.clone();
        let port = free_port()?;
        let key = env
            .keys()
            .find(|k| k.ends_with("__HTTP__PORT"))
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("{name} has no port setting"))?;
        env.insert(key, port.to_string());
        let mut replica = Service {
            name: first.name,
            url: format!("http://127.0.0.1:{port}"),
            env,
            child: None,
        };
        replica.start().await?;
        wait_ready(&replica.url, replica.name).await?;
        let url = replica.url.clone();
        self.services.push(replica);
        Ok(url)
    }

    /// GETs `path` from `service` as the holder of `token`; the status and the JSON body (`null`
    /// when there is none). Panics when the request cannot be sent.
    pub async fn get_status(&self, service: &str, path: &str, token: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, service, path, token, None).await
    }

    /// POSTs `body` as JSON to `service`'s `path`; the status and the JSON body (`null` when
    /// there is none). Panics when the request cannot be sent.
    pub async fn post_json(&self, service: &str, path: &str, token: &str, body: &Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, service, path, token, Some(body)).await
    }

    /// POSTs to `service`'s `path` without a body; the status and the JSON body (`null` when
    /// there is none). Panics when the request cannot be sent.
    pub async fn post_empty(&self, service: &str, path: &str, token: &str) -> (u16, Value) {
        self.call(reqwest::Method::POST, service, path, token, None).await
    }

    /// PUTs `body` as JSON to `service`'s `path`; the status and the JSON body (`null` when there
    /// is none). Panics when the request cannot be sent.
    pub async fn put_json(&self, service: &str, path: &str, token: &str, body: &Value) -> (u16, Value) {
        self.call(reqwest::Method::PUT, service, path, token, Some(body)).await
    }

    /// Opens a web ticket at intake as `customer`; the ticket intake answers with. Panics unless
    /// intake answers 201.
    pub async fn open_ticket(&self, customer: uuid::Uuid, subject: &str, body: &str) -> Value {
        let (status, ticket) = self
            .post_json(
                "intake",
                "/v1/tickets",
                &token(customer, platform::auth::Role::Customer),
                &serde_json::json!({"channel": "web", "subject": subject, "body": body}),
            )
            .await;
        assert_eq!(status, 201, "{ticket}");
        ticket
    }

    async fn call(
        &self,
        method: reqwest::Method,
        service: &str,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.url(service)))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().await.expect("the request is sent");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// The database URL a service was started with.
    pub fn database_url(&self, name: &str) -> String {
        self.services
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.setting("DATABASE__URL"))
            .unwrap_or_default()
            .to_owned()
    }

    /// Stops every service cleanly.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        for s in &mut self.services {
            s.stop().await?;
        }
        Ok(())
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn wait_ready(url: &str, name: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(res) = client.get(format!("{url}/readyz")).send().await
            && res.status().is_success()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!("{name} did not become ready at {url} (see target/system-logs/{name}.log)");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
