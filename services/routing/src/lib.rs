//! Routing: live queues in Redis with Postgres as the truth, skills- and tier-based assignment
//! (offers and pulls), service-level clocks with escalation, a live view and staffing forecasts.

pub mod adapters;
pub mod api;
pub mod consumers;
pub mod core;
pub mod domain;
pub mod events;
pub mod jobs;
pub mod settings;
pub mod store;

use platform::config::Settings;
use platform::http::Api;
use platform::{Application, Platform, ServiceSpec, Task};
use sqlx::migrate::Migrator;

use crate::adapters::live::Presence;
use crate::core::router::{Dispatcher, Rebuild, Router};
use crate::core::sla;
use crate::settings::RoutingSettings;
use crate::store::sla::Mark;

pub const NAME: &str = "routing";

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

pub static SPEC: ServiceSpec<RoutingSettings> = ServiceSpec {
    name: NAME,
    env_prefix: "ROUTING",
    defaults: include_str!("../config/default.toml"),
    list_keys: &[],
    migrations: &MIGRATIONS,
    build: |settings| Box::pin(build(settings)),
};

/// Connects, migrates and builds the service, ready to run.
pub async fn build(settings: Settings<RoutingSettings>) -> anyhow::Result<Application> {
    let mut platform = Platform::connect(NAME, &settings, &MIGRATIONS).await?;
    let service = settings.service.clone();
    let router = Router::new(&platform, service.clone());
    // Redis lost the live state (or this is the first start): rebuilt before serving.
    if !router.live().is_built().await? {
        router.rebuild(Rebuild::IfLost).await?;
    }
    platform.jobs = platform
        .jobs
        .clone()
        .with_handler(
            sla::WARN_JOB,
            jobs::SlaClock {
                router: router.clone(),
                fires: Mark::Warned,
            },
        )
        .with_handler(
            sla::BREACH_JOB,
            jobs::SlaClock {
                router: router.clone(),
                fires: Mark::Breached,
            },
        );
    let tasks: Vec<Box<dyn Task>> = vec![
        Box::new(platform.consumer(
            consumers::TicketCreated::spec().batched(service.consumer_batch),
            consumers::TicketCreated { router: router.clone() },
        )),
        Box::new(platform.consumer(
            consumers::TicketStatusChanged::spec(),
            consumers::TicketStatusChanged { router: router.clone() },
        )),
        Box::new(platform.consumer(
            consumers::MessageAdded::spec(),
            consumers::MessageAdded { router: router.clone() },
        )),
        Box::new(Dispatcher { router: router.clone() }),
    ];
    let presence = Presence::new(
        platform.redis.clone(),
        service.presence_ttl_secs,
        platform.clock.clone(),
    );
    // Offers, pulls, presence and the live view all stand on the live state in Redis.
    let api = Api::new(api::openapi(), move |cfg| api::configure(cfg, &router, &presence))
        .requiring(&[platform::health::Dependency::Redis]);
    Application::build(platform, &settings, api, tasks).await
}
