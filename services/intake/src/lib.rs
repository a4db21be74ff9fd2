//! Intake: every channel in — tickets recorded, classified and handed on.

pub mod api;
pub mod domain;
pub mod events;
pub mod lifecycle;
pub mod store;

use platform::config::{ConfigError, Settings, Validate};
use platform::http::Api;
use platform::{Application, Platform, ServiceSpec};
use serde::Deserialize;
use sqlx::migrate::Migrator;

pub const NAME: &str = "intake";

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

pub static SPEC: ServiceSpec<IntakeSettings> = ServiceSpec {
    name: NAME,
    env_prefix: "INTAKE",
    defaults: include_str!("../config/default.toml"),
    migrations: &MIGRATIONS,
    build: |settings| Box::pin(build(settings)),
};

/// The `[service]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeSettings {
    pub max_subject_chars: usize,
    pub max_body_chars: usize,
    pub classification_rules: String,
    pub repeat_contact_window_hours: u32,
    pub auto_close_after_hours: u32,
    pub reopen_window_hours: u32,
}

impl IntakeSettings {
    /// The classification rules: the configured file, or the shipped ones.
    pub fn rules(&self) -> Result<domain::classify::Rules, ConfigError> {
        let text = if self.classification_rules.is_empty() {
            domain::classify::DEFAULT_RULES.to_owned()
        } else {
            std::fs::read_to_string(&self.classification_rules).map_err(|e| {
                ConfigError::key(
                    "service.classification_rules",
                    format!("{}: {e}", self.classification_rules),
                )
            })?
        };
        domain::classify::Rules::parse(&text).map_err(|e| ConfigError::key("service.classification_rules", e))
    }
}

impl Validate for IntakeSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.max_subject_chars == 0 || self.max_body_chars == 0 {
            return Err(ConfigError::key("service.max_subject_chars", "limits must be positive"));
        }
        self.rules().map(|_| ())
    }
}

/// Connects, migrates and builds the service, ready to run.
pub async fn build(settings: Settings<IntakeSettings>) -> anyhow::Result<Application> {
    let mut platform = Platform::connect(NAME, &settings, &MIGRATIONS).await?;
    let lifecycle = lifecycle::Lifecycle {
        outbox: platform.outbox.clone(),
        jobs: platform.jobs.clone(),
        timing: lifecycle::Timing {
            auto_close_after_hours: settings.service.auto_close_after_hours,
            reopen_window_hours: settings.service.reopen_window_hours,
        },
    };
    platform.jobs = platform
        .jobs
        .clone()
        .with_handler(lifecycle::AUTO_CLOSE_JOB, lifecycle::AutoClose(lifecycle.clone()));
    let limits = settings.service.clone();
    let classifier = std::sync::Arc::new(domain::classify::Classifier::new(settings.service.rules()?));
    let api = Api::new(api::openapi(), move |cfg| {
        api::configure(cfg, &limits, &classifier, &lifecycle)
    });
    Application::build(platform, &settings, api, vec![]).await
}
