//! Refund and after-sales: enrolments and payments, refund policies as data, requests quoted,
//! reviewed and decided, every step audited.

pub mod api;
pub mod core;
pub mod domain;
pub mod events;
pub mod settings;
pub mod store;

use platform::config::Settings;
use platform::http::Api;
use platform::{Application, Platform, ServiceSpec};
use sqlx::migrate::Migrator;

pub use settings::RefundSettings;

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

/// Connects, migrates and builds the service, ready to run.
pub async fn build(settings: Settings<RefundSettings>) -> anyhow::Result<Application> {
    let platform = Platform::connect(NAME, &settings, &MIGRATIONS).await?;
    let refunds = core::Refunds::new(platform.clone(), &settings.service);
    let api = Api::new(api::openapi(), move |cfg| api::configure(cfg, &refunds));
    Application::build(platform, &settings, api, vec![]).await
}
