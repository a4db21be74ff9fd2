//! Refund and after-sales: requests recorded, reviewed, computed and paid out.

pub mod api;
pub mod domain;
pub mod store;

use platform::config::{ConfigError, Settings, Validate};
use platform::http::Api;
use platform::{Application, Platform, ServiceSpec};
use serde::Deserialize;
use sqlx::migrate::Migrator;

pub const NAME: &str = "refund";

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

pub static SPEC: ServiceSpec<RefundSettings> = ServiceSpec {
    name: NAME,
    env_prefix: "REFUND",
    defaults: include_str!("../config/default.toml"),
    list_keys: &["service.currencies"],
    migrations: &MIGRATIONS,
    build: |settings| Box::pin(build(settings)),
};

/// The `[service]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundSettings {
    pub currencies: Vec<String>,
    pub max_amount_minor: i64,
}

impl Validate for RefundSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.currencies.is_empty() || !self.currencies.iter().all(|c| domain::refund::is_currency_code(c)) {
            return Err(ConfigError::key(
                "service.currencies",
                "must list ISO 4217 codes such as CNY",
            ));
        }
        if self.max_amount_minor <= 0 {
            return Err(ConfigError::key("service.max_amount_minor", "must be positive"));
        }
        Ok(())
    }
}

/// Connects, migrates and builds the service, ready to run.
pub async fn build(settings: Settings<RefundSettings>) -> anyhow::Result<Application> {
    let platform = Platform::connect(NAME, &settings, &MIGRATIONS).await?;
    let own = settings.service.clone();
    let api = Api::new(api::openapi(), move |cfg| api::configure(cfg, &own));
    Application::build(platform, &settings, api, vec![]).await
}
