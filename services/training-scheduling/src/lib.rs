//! Training and class scheduling: courses, classes and trainings with recurring schedules,
//! sessions, seats and an orderly waitlist, class enrolments and transfers, calendar feeds.

pub mod api;
pub mod consumers;
pub mod core;
pub mod domain;
pub mod events;
pub mod settings;
pub mod store;

use platform::config::Settings;
use platform::http::Api;
use platform::{Application, Platform, ServiceSpec};
use sqlx::migrate::Migrator;

pub use settings::SchedulingSettings;

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

/// Connects, migrates and builds the service, ready to run.
pub async fn build(settings: Settings<SchedulingSettings>) -> anyhow::Result<Application> {
    let platform = Platform::connect(NAME, &settings, &MIGRATIONS).await?;
    let scheduling = core::Scheduling::new(platform.clone(), &settings.service);
    let transfers = platform.consumer(
        consumers::ClassTransferred::spec(),
        consumers::ClassTransferred {
            scheduling: scheduling.clone(),
        },
    );
    let api = Api::new(api::openapi(), move |cfg| api::configure(cfg, &scheduling));
    Application::build(platform, &settings, api, vec![Box::new(transfers)]).await
}
