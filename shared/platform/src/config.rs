//! Layered configuration: the service's embedded `config/default.toml`, then an optional file
//! named by `CONFIG_FILE`, then environment variables with the service's prefix
//! (`INTAKE__DATABASE__URL` sets `database.url`). A missing or malformed key fails start-up with
//! an error that names the key.

use std::collections::HashMap;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Environment variable naming an optional TOML file layered over the defaults.
pub const CONFIG_FILE_ENV: &str = "CONFIG_FILE";

/// Why configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration key `{key}`: {message}")]
    Key { key: String, message: String },
    #[error("configuration: {0}")]
    Source(String),
}

impl ConfigError {
    pub fn key(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Key {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Settings that also check rules across keys once loaded.
pub trait Validate {
    fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }

    /// Further checks in production: refuse development secrets and other settings only fit
    /// for a workstation.
    fn validate_for_production(&self) -> Result<(), ConfigError> {
        Ok(())
    }
}

impl Validate for () {}

/// The defaults every service shares (`shared/platform/config/common.toml`), under the
/// service's own `config/default.toml`.
pub const COMMON_DEFAULTS: &str = include_str!("../config/common.toml");

/// Loads settings from the process environment: [`COMMON_DEFAULTS`], the service's defaults,
/// `CONFIG_FILE`, then `<PREFIX>__...` variables.
pub fn load<T: DeserializeOwned + Validate>(
    prefix: &str,
    service_defaults: &str,
    list_keys: &[&str],
) -> Result<T, ConfigError> {
    let vars: HashMap<String, String> = std::env::vars().collect();
    load_from(prefix, service_defaults, list_keys, &vars)
}

/// Reads a list setting that an environment variable may give as one value
/// (`BUS__RETRY_DELAYS_MS=1000` is the list `[1000]`, like `1000,5000` is two): use with
/// `#[serde(deserialize_with = "platform::config::one_or_many")]` on every list key.
pub fn one_or_many<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    use serde::de::{self, IntoDeserializer};

    struct OneOrMany<T>(std::marker::PhantomData<T>);

    impl<'de, T: Deserialize<'de>> de::Visitor<'de> for OneOrMany<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list, or one value")
        }

        // Elements go through the source's own deserializer, which reads "100" as a number.
        fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Vec<T>, A::Error> {
            Vec::<T>::deserialize(de::value::SeqAccessDeserializer::new(seq))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Vec<T>, E> {
            T::deserialize(v.into_deserializer()).map(|x| vec![x])
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Vec<T>, E> {
            T::deserialize(v.into_deserializer()).map(|x| vec![x])
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Vec<T>, E> {
            T::deserialize(v.into_deserializer()).map(|x| vec![x])
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Vec<T>, E> {
            T::deserialize(v.into_deserializer()).map(|x| vec![x])
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<T>, E> {
            T::deserialize(v.to_owned().into_deserializer()).map(|x| vec![x])
        }
    }

    deserializer.deserialize_any(OneOrMany(std::marker::PhantomData))
}

/// The kernel's settings that an environment variable gives as a comma-separated list.
const PLATFORM_LIST_KEYS: [&str; 2] = ["http.cors_allowed_origins", "bus.retry_delays_ms"];

/// Like [`load`], from the given variables (tests pass their own). `list_keys` names the
/// service's own settings that a variable gives as a comma-separated list
/// (`service.event_patterns`), besides the kernel's.
pub fn load_from<T: DeserializeOwned + Validate>(
    prefix: &str,
    service_defaults: &str,
    list_keys: &[&str],
    vars: &HashMap<String, String>,
) -> Result<T, ConfigError> {
    let mut builder = config::Config::builder();
    for layer in [COMMON_DEFAULTS, service_defaults] {
        builder = builder.add_source(config::File::from_str(layer, config::FileFormat::Toml));
    }
    if let Some(path) = vars.get(CONFIG_FILE_ENV).filter(|p| !p.is_empty()) {
        builder = builder.add_source(config::File::new(path, config::FileFormat::Toml).required(true));
    }
    let mut env_source = config::Environment::with_prefix(prefix)
        .prefix_separator("__")
        .separator("__")
        .try_parsing(true)
        .list_separator(",");
    for key in PLATFORM_LIST_KEYS.iter().chain(list_keys) {
        env_source = env_source.with_list_parse_key(key);
    }
    let env_source = env_source.source(Some(vars.clone().into_iter().collect()));
    let cfg = builder
        .add_source(env_source)
        .build()
        .map_err(|e| ConfigError::Source(e.to_string()))?;
    let settings: T = serde_path_to_error::deserialize(cfg).map_err(|e| {
        let key = e.path().to_string();
        ConfigError::key(key, e.into_inner().to_string())
    })?;
    settings.validate()?;
    Ok(settings)
}

/// Where a service runs: production refuses development secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    /// A workstation or a test run: the documented development keys are accepted.
    Development,
    /// Anything else (the default): start-up refuses the development keys and requires token
    /// issuer and audience.
    Production,
}

/// `[runtime]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeSettings {
    pub environment: Environment,
}

/// The settings every service has, plus its own section `[service]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings<S> {
    pub runtime: RuntimeSettings,
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub bus: BusSettings,
    pub outbox: OutboxSettings,
    pub jobs: JobSettings,
    pub auth: AuthSettings,
    pub telemetry: TelemetrySettings,
    pub clock: ClockSettings,
    pub service: S,
}

/// `[clock]`: where "now" comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSettings {
    /// `system` (production), or `manual`: stands still until moved through
    /// `POST /v1/admin/clock` (simulations) or by a test.
    pub mode: crate::clock::ClockMode,
    /// Where a manual clock starts (RFC 3339); the system time at start-up when unset.
    #[serde(default)]
    pub start: Option<chrono::DateTime<chrono::Utc>>,
}

impl ClockSettings {
    pub fn clock(&self) -> crate::clock::Clock {
        match self.mode {
            crate::clock::ClockMode::System => crate::clock::Clock::system(),
            crate::clock::ClockMode::Manual => crate::clock::Clock::manual(self.start.unwrap_or_else(chrono::Utc::now)),
        }
    }
}

impl<S: Validate> Validate for Settings<S> {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.http.body_limit_bytes < 1024 {
            return Err(ConfigError::key("http.body_limit_bytes", "must be at least 1024"));
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError::key("database.max_connections", "must be at least 1"));
        }
        if let Some(role) = &self.database.runtime_role
            && !crate::db::is_role_name(role)
        {
            return Err(ConfigError::key(
                "database.runtime_role",
                "must be a role name: lowercase letters, digits and _, starting with a letter",
            ));
        }
        if self.redis.response_timeout_ms == 0 {
            return Err(ConfigError::key("redis.response_timeout_ms", "must be at least 1"));
        }
        if self.bus.prefetch == 0 {
            return Err(ConfigError::key("bus.prefetch", "must be at least 1"));
        }
        if self.bus.retry_delays_ms.is_empty() {
            return Err(ConfigError::key(
                "bus.retry_delays_ms",
                "needs at least one delay (the last attempt parks the message)",
            ));
        }
        if self.auth.jwt_secret.expose_secret().len() < 32 {
            return Err(ConfigError::key("auth.jwt_secret", "must be at least 32 bytes"));
        }
        if self.runtime.environment == Environment::Production {
            if self.auth.jwt_secret.expose_secret() == DEVELOPMENT_JWT_SECRET {
                return Err(ConfigError::key(
                    "auth.jwt_secret",
                    "is the public development key, refused in production: set <PREFIX>__AUTH__JWT_SECRET \
                     (or runtime.environment = \"development\" on a workstation)",
                ));
            }
            for (key, value) in [
                ("auth.issuer", &self.auth.issuer),
                ("auth.audience", &self.auth.audience),
            ] {
                if value.as_deref().is_none_or(|v| v.trim().is_empty()) {
                    return Err(ConfigError::key(key, "is required in production: tokens must name it"));
                }
            }
            self.service.validate_for_production()?;
        }
        if !matches!(self.telemetry.log_format.as_str(), "json" | "pretty") {
            return Err(ConfigError::key(
                "telemetry.log_format",
                format!("must be `json` or `pretty`, not `{}`", self.telemetry.log_format),
            ));
        }
        self.service.validate()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub host: String,
    pub port: u16,
    pub body_limit_bytes: usize,
    #[serde(default)]
    #[serde(deserialize_with = "one_or_many")]
    pub cors_allowed_origins: Vec<String>,
    /// 0 = one worker per core.
    pub workers: usize,
    pub shutdown_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: SecretString,
    pub max_connections: u32,
    pub min_connections: u32,
    pub acquire_timeout_ms: u64,
    /// Postgres cancels a statement running longer (`statement_timeout`); 0 = never.
    pub statement_timeout_ms: u64,
    /// Postgres ends a session idle inside a transaction longer, releasing its locks
    /// (`idle_in_transaction_session_timeout`); 0 = never.
    pub idle_in_transaction_timeout_ms: u64,
    pub run_migrations: bool,
    /// The role the service's own connections act as (`SET ROLE` on each), while migrations
    /// run as the connecting (owner) role: what a service's migrations grant that role is all
    /// the running service may do (refund's audit is insert-only). None: the connecting role.
    #[serde(default)]
    pub runtime_role: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    pub url: SecretString,
    /// Prepended to every key (`<prefix>:<service>:...`); lets tenants or tests share a server.
    pub key_prefix: String,
    /// How long a command (or a pipeline, or a script) may take, waiting included, before it
    /// fails with "timed out". Commands share one multiplexed connection, so a bulk step such
    /// as a rebuild's pipelines makes the ones behind it wait.
    pub response_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusSettings {
    pub url: SecretString,
    /// The durable topic exchange every domain event is published to.
    pub exchange: String,
    /// Prefix of this service's queue names; defaults to the service name when empty.
    pub queue_prefix: String,
    pub prefetch: u16,
    /// Consuming loops per queue in each replica (each on its own channel).
    pub consumers_per_queue: u16,
    /// Delay before each retry of a failed message; after the last, the message is parked.
    #[serde(deserialize_with = "one_or_many")]
    pub retry_delays_ms: Vec<u64>,
    pub reconnect_max_delay_ms: u64,
    /// How long connecting (or opening a channel) may take before it fails.
    pub connect_timeout_ms: u64,
    /// How long publishing a batch, confirms included, may take before it fails.
    pub publish_timeout_ms: u64,
    /// Declare an auto-deleting exchange and queues that expire after an idle minute: for
    /// tests and throwaway environments, never production.
    pub ephemeral: bool,
}

impl BusSettings {
    /// Attempts a message gets before it is parked: the first try plus one per retry delay.
    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.retry_delays_ms.len()).unwrap_or(u32::MAX - 1) + 1
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxSettings {
    pub poll_interval_ms: u64,
    pub batch_size: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSettings {
    pub poll_interval_ms: u64,
    pub batch_size: i64,
    /// How long a claimed job stays claimed before another replica may take it over.
    pub lease_secs: u64,
    pub max_attempts: i32,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// HS256 signing key shared with the token issuer.
    pub jwt_secret: SecretString,
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub audience: Option<String>,
    pub leeway_secs: u64,
    /// A token issued (`iat`) longer ago than this is refused; 0 = no limit.
    pub max_token_age_secs: u64,
}

/// The signing key committed in `default.toml` for local development only.
pub const DEVELOPMENT_JWT_SECRET: &str = "edu-support-development-signing-key-not-for-production";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// `json` (default, for log collectors) or `pretty` (readable locally).
    pub log_format: String,
    /// Default filter when `RUST_LOG` is unset, in `tracing` `EnvFilter` syntax.
    pub level: String,
}

pub fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULTS: &str = r#"
[runtime]
environment = "development"
[http]
port = 8081
[database]
url = "postgres://postgres:postgres@127.0.0.1:5432/intake"
[bus]
retry_delays_ms = [1000, 5000]
[service]
greeting = "hello"
"#;

    #[derive(Debug, Deserialize)]
    struct Own {
        greeting: String,
        #[serde(default)]
        tags: Vec<String>,
    }
    impl Validate for Own {}

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn defaults_load() {
        let s: Settings<Own> = load_from("INTAKE", DEFAULTS, &[], &vars(&[])).expect("load");
        assert_eq!(s.http.port, 8081);
        assert_eq!(s.bus.max_attempts(), 3);
        assert_eq!(s.service.greeting, "hello");
    }

    #[test]
    fn environment_overrides_with_the_service_prefix() {
        let s: Settings<Own> = load_from(
            "INTAKE",
            DEFAULTS,
            &[],
            &vars(&[
                ("INTAKE__HTTP__PORT", "9999"),
                ("INTAKE__DATABASE__URL", "postgres://x@db/intake"),
                (
                    "INTAKE__HTTP__CORS_ALLOWED_ORIGINS",
                    "https://a.example,https://b.example",
                ),
                ("INTAKE__SERVICE__GREETING", "你好"),
                ("ROUTING__HTTP__PORT", "1"),
            ]),
        )
        .expect("load");
        assert_eq!(s.http.port, 9999);
        assert_eq!(s.database.url.expose_secret(), "postgres://x@db/intake");
        assert_eq!(s.http.cors_allowed_origins.len(), 2);
        assert_eq!(s.service.greeting, "你好");
    }

    #[test]
    fn production_refuses_the_development_key_and_requires_issuer_and_audience() {
        let load = |pairs: &[(&str, &str)]| load_from::<Settings<Own>>("INTAKE", DEFAULTS, &[], &vars(pairs));
        assert!(load(&[("INTAKE__RUNTIME__ENVIRONMENT", "development")]).is_ok());
        let err = load(&[("INTAKE__RUNTIME__ENVIRONMENT", "production")]).expect_err("the development key");
        assert!(err.to_string().contains("auth.jwt_secret"), "{err}");
        let key = (
            "INTAKE__AUTH__JWT_SECRET",
            "a-production-signing-key-of-32-bytes-or-more",
        );
        let err = load(&[("INTAKE__RUNTIME__ENVIRONMENT", "production"), key]).expect_err("no issuer");
        assert!(err.to_string().contains("auth.issuer"), "{err}");
        let issuer = ("INTAKE__AUTH__ISSUER", "https://auth.example.com");
        let err = load(&[("INTAKE__RUNTIME__ENVIRONMENT", "production"), key, issuer]).expect_err("no audience");
        assert!(err.to_string().contains("auth.audience"), "{err}");
        let audience = ("INTAKE__AUTH__AUDIENCE", "edu-support");
        assert!(load(&[("INTAKE__RUNTIME__ENVIRONMENT", "production"), key, issuer, audience]).is_ok());
    }

    #[test]
    fn a_service_list_setting_named_in_its_spec_splits_from_the_environment() {
        let env = vars(&[("INTAKE__SERVICE__TAGS", "vip,new_user")]);
        let s: Settings<Own> = load_from("INTAKE", DEFAULTS, &["service.tags"], &env).expect("load");
        assert_eq!(s.service.tags, ["vip", "new_user"]);
        // One value is a list of one.
        let one = vars(&[("INTAKE__BUS__RETRY_DELAYS_MS", "250")]);
        let s: Settings<Own> = load_from("INTAKE", DEFAULTS, &[], &one).expect("load");
        assert_eq!(s.bus.retry_delays_ms, [250]);
        let many = vars(&[("INTAKE__BUS__RETRY_DELAYS_MS", "100,200,400")]);
        let s: Settings<Own> = load_from("INTAKE", DEFAULTS, &[], &many).expect("load");
        assert_eq!(s.bus.retry_delays_ms, [100, 200, 400]);
        // Not named: the variable is one string, which does not read as a list.
        assert!(load_from::<Settings<Own>>("INTAKE", DEFAULTS, &[], &env).is_err());
    }

    #[test]
    fn a_file_layers_between_defaults_and_environment() {
        let dir = std::env::temp_dir().join(format!("cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("config.toml");
        std::fs::write(&file, "[http]\nport = 7000\nworkers = 3\n").expect("write");
        let path = file.to_string_lossy().to_string();
        let s: Settings<Own> = load_from(
            "INTAKE",
            DEFAULTS,
            &[],
            &vars(&[("CONFIG_FILE", &path), ("INTAKE__HTTP__WORKERS", "5")]),
        )
        .expect("load");
        assert_eq!(s.http.port, 7000);
        assert_eq!(s.http.workers, 5);
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let err = load_from::<Settings<Own>>("INTAKE", DEFAULTS, &[], &vars(&[("INTAKE__HTTP__PORT", "eighty")]))
            .expect_err("must fail");
        assert!(err.to_string().contains("http.port"), "{err}");
    }

    #[test]
    fn a_missing_key_names_its_key() {
        let without_greeting = DEFAULTS.replace("greeting = \"hello\"\n", "");
        let err = load_from::<Settings<Own>>("INTAKE", &without_greeting, &[], &vars(&[])).expect_err("must fail");
        let text = err.to_string();
        assert!(text.contains("service") && text.contains("greeting"), "{text}");
    }

    #[test]
    fn an_unknown_key_is_refused() {
        let err = load_from::<Settings<Own>>("INTAKE", DEFAULTS, &[], &vars(&[("INTAKE__HTTP__PROT", "1")]))
            .expect_err("must fail");
        assert!(err.to_string().contains("prot"), "{err}");
    }

    #[test]
    fn cross_key_rules_are_checked() {
        let err = load_from::<Settings<Own>>("INTAKE", DEFAULTS, &[], &vars(&[("INTAKE__AUTH__JWT_SECRET", "short")]))
            .expect_err("must fail");
        assert!(err.to_string().contains("auth.jwt_secret"), "{err}");
    }

    #[test]
    fn a_missing_config_file_fails() {
        let err = load_from::<Settings<Own>>(
            "INTAKE",
            DEFAULTS,
            &[],
            &vars(&[("CONFIG_FILE", "/nonexistent/edu.toml")]),
        )
        .expect_err("must fail");
        assert!(err.to_string().contains("edu.toml"), "{err}");
    }
}
