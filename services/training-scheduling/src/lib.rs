//! Training and class scheduling: sessions, registrations, reminders, attendance, make-ups.

pub mod api;
pub mod domain;
pub mod store;

use platform::config::{ConfigError, Settings, Validate};
use platform::http::Api;
use platform::{Application, Platform, ServiceSpec};
use serde::Deserialize;
use sqlx::migrate::Migrator;

pub const NAME: &str = "training-scheduling";

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

pub static SPEC: ServiceSpec<SchedulingSettings> = ServiceSpec {
    name: NAME,
    env_prefix: "TRAINING_SCHEDULING",
    defaults: include_str!("../config/default.toml"),
    list_keys: &[],
    migrations: &MIGRATIONS,
    build: |settings| Box::pin(build(settings)),
};

/// The `[service]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulingSettings {
    pub max_session_minutes: i64,
    pub max_capacity: i32,
}

impl Validate for SchedulingSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.max_session_minutes <= 0 {
            return Err(ConfigError::key("service.max_session_minutes", "must be positive"));
        }
        if self.max_capacity <= 0 {
            return Err(ConfigError::key("service.max_capacity", "must be positive"));
        }
        Ok(())
    }
}

/// Connects, migrates and builds the service, ready to run.
pub async fn build(settings: Settings<SchedulingSettings>) -> anyhow::Result<Application> {
    let platform = Platform::connect(NAME, &settings, &MIGRATIONS).await?;
    let own = settings.service.clone();
    let api = Api::new(api::openapi(), move |cfg| api::configure(cfg, &own));
    Application::build(platform, &settings, api, vec![]).await
}
