//! Intake: every channel in — tickets recorded, classified and handed on.

pub mod api;
pub mod domain;
pub mod events;
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
}

impl Validate for IntakeSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.max_subject_chars == 0 || self.max_body_chars == 0 {
            return Err(ConfigError::key("service.max_subject_chars", "limits must be positive"));
        }
        Ok(())
    }
}

/// Connects, migrates and builds the service, ready to run.
pub async fn build(settings: Settings<IntakeSettings>) -> anyhow::Result<Application> {
    let platform = Platform::connect(NAME, &settings, &MIGRATIONS).await?;
    let limits = settings.service.clone();
    let api = Api::new(api::openapi(), move |cfg| api::configure(cfg, &limits));
    Application::build(platform, &settings, api, vec![]).await
}
