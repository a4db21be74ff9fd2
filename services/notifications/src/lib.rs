//! Notifications: events become messages to customers, agents and supervisors.

pub mod api;
pub mod domain;
pub mod events;
pub mod store;

use platform::config::{ConfigError, Settings, Validate};
use platform::http::Api;
use platform::{Application, Platform, ServiceSpec, Task};
use serde::Deserialize;
use sqlx::migrate::Migrator;

pub const NAME: &str = "notifications";

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

pub static SPEC: ServiceSpec<NotificationSettings> = ServiceSpec {
    name: NAME,
    env_prefix: "NOTIFICATIONS",
    defaults: include_str!("../config/default.toml"),
    migrations: &MIGRATIONS,
    build: |settings| Box::pin(build(settings)),
};

/// The `[service]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    pub default_locale: String,
    pub max_page_size: i64,
}

impl Validate for NotificationSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if domain::message::Locale::parse(&self.default_locale).is_none() {
            return Err(ConfigError::key("service.default_locale", "must be zh-CN or en"));
        }
        if !(1..=1000).contains(&self.max_page_size) {
            return Err(ConfigError::key("service.max_page_size", "must be 1 to 1000"));
        }
        Ok(())
    }
}

/// Connects, migrates and builds the service, ready to run.
pub async fn build(settings: Settings<NotificationSettings>) -> anyhow::Result<Application> {
    let platform = Platform::connect(NAME, &settings, &MIGRATIONS).await?;
    let locale = domain::message::Locale::parse(&settings.service.default_locale).unwrap_or_default();
    let tasks: Vec<Box<dyn Task>> = vec![
        Box::new(platform.consumer(events::TicketQueued::spec(), events::TicketQueued { locale })),
        Box::new(platform.consumer(events::SlaBreached::spec(), events::SlaBreached { locale })),
    ];
    let own = settings.service.clone();
    let api = Api::new(api::openapi(), move |cfg| api::configure(cfg, &own));
    Application::build(platform, &settings, api, tasks).await
}
