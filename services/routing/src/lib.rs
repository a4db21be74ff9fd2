//! Routing: live queues in Redis with Postgres as the truth; assignment and SLAs build on them.

pub mod agents;
pub mod api;
pub mod domain;
pub mod events;
pub mod live;
pub mod store;

use platform::config::{ConfigError, Settings, Validate};
use platform::http::Api;
use platform::{Application, Platform, ServiceSpec, Task};
use serde::Deserialize;
use sqlx::migrate::Migrator;

pub const NAME: &str = "routing";

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

pub static SPEC: ServiceSpec<RoutingSettings> = ServiceSpec {
    name: NAME,
    env_prefix: "ROUTING",
    defaults: include_str!("../config/default.toml"),
    migrations: &MIGRATIONS,
    build: |settings| Box::pin(build(settings)),
};

/// The `[service]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingSettings {
    pub default_queue: String,
    pub senior_queue: String,
    pub presence_ttl_secs: u64,
    pub high_priority_boost_secs: u32,
    pub urgent_priority_boost_secs: u32,
}

impl Validate for RoutingSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if !domain::queue::is_valid_name(&self.default_queue) {
            return Err(ConfigError::key(
                "service.default_queue",
                "must be lowercase letters, digits, '-' or '_'",
            ));
        }
        if !domain::queue::is_valid_name(&self.senior_queue) {
            return Err(ConfigError::key(
                "service.senior_queue",
                "must be lowercase letters, digits, '-' or '_'",
            ));
        }
        if self.urgent_priority_boost_secs < self.high_priority_boost_secs {
            return Err(ConfigError::key(
                "service.urgent_priority_boost_secs",
                "must be at least service.high_priority_boost_secs",
            ));
        }
        Ok(())
    }
}

/// Connects, migrates and builds the service, ready to run.
pub async fn build(settings: Settings<RoutingSettings>) -> anyhow::Result<Application> {
    let platform = Platform::connect(NAME, &settings, &MIGRATIONS).await?;
    let live = live::LiveQueues::new(platform.redis.clone());
    let tasks: Vec<Box<dyn Task>> = vec![
        Box::new(platform.consumer(
            events::TicketCreated::spec(),
            events::TicketCreated {
                outbox: platform.outbox.clone(),
                live: live.clone(),
                policy: settings.service.clone(),
            },
        )),
        Box::new(platform.consumer(
            events::TicketStatusChanged::spec(),
            events::TicketStatusChanged {
                outbox: platform.outbox.clone(),
                live: live.clone(),
                policy: settings.service.clone(),
            },
        )),
    ];
    let presence = agents::Presence::new(platform.redis.clone(), settings.service.presence_ttl_secs);
    let service = settings.service.clone();
    let api = Api::new(api::openapi(), move |cfg| {
        api::configure(cfg, &live, &presence, &service)
    });
    Application::build(platform, &settings, api, tasks).await
}
