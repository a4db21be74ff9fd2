//! Routing: live queues in Redis with Postgres as the truth, skills- and tier-based assignment
//! (offers and pulls), service-level clocks with escalation, a live view and staffing forecasts.

pub mod agents;
pub mod api;
pub mod catalog;
pub mod domain;
pub mod events;
pub mod live;
pub mod pull_view;
pub mod router;
pub mod sla;
pub mod store;
pub mod timers;

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
    list_keys: &[],
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
    pub vip_boost_secs: u32,
    pub high_emotion_boost_secs: u32,
    pub near_breach_boost_secs: u32,
    pub offer_timeout_secs: u64,
    pub relax_language_after_secs: u64,
    pub relax_skill_after_secs: u64,
    pub relax_tier_after_secs: u64,
    pub dispatch_interval_ms: u64,
    pub heads_per_queue: u16,
    pub pull_view_ms: u64,
    pub catalog_refresh_ms: u64,
    pub sla_warn_ratio: f64,
    pub default_handle_secs: u64,
    pub consumer_batch: usize,
    #[serde(default, deserialize_with = "empty_is_none")]
    pub escalation_supervisor_id: Option<uuid::Uuid>,
}

fn empty_is_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<uuid::Uuid>, D::Error> {
    let s = String::deserialize(d)?;
    if s.trim().is_empty() {
        return Ok(None);
    }
    s.trim().parse().map(Some).map_err(serde::de::Error::custom)
}

impl RoutingSettings {
    pub fn relax_after(&self) -> domain::matching::RelaxAfter {
        domain::matching::RelaxAfter {
            language_secs: self.relax_language_after_secs,
            skill_secs: self.relax_skill_after_secs,
            tier_secs: self.relax_tier_after_secs,
        }
    }
}

impl Validate for RoutingSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=1000).contains(&self.consumer_batch) {
            return Err(ConfigError::key("service.consumer_batch", "must be 1 to 1000"));
        }
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
        if !(self.sla_warn_ratio > 0.0 && self.sla_warn_ratio < 1.0) {
            return Err(ConfigError::key("service.sla_warn_ratio", "must be between 0 and 1"));
        }
        if self.offer_timeout_secs == 0 {
            return Err(ConfigError::key("service.offer_timeout_secs", "must be at least 1"));
        }
        if self.heads_per_queue == 0 {
            return Err(ConfigError::key("service.heads_per_queue", "must be at least 1"));
        }
        if self.relax_skill_after_secs < self.relax_language_after_secs
            || self.relax_tier_after_secs < self.relax_skill_after_secs
        {
            return Err(ConfigError::key(
                "service.relax_tier_after_secs",
                "relaxation steps must come in order: language ≤ skill ≤ tier",
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
    let mut platform = Platform::connect(NAME, &settings, &MIGRATIONS).await?;
    let service = settings.service.clone();
    let live = live::LiveQueues::new(platform.redis.clone());
    let catalog = catalog::Catalog::new(
        platform.pool.clone(),
        std::time::Duration::from_millis(service.catalog_refresh_ms),
    );
    let sla = sla::Sla::new(platform.jobs.clone(), service.sla_warn_ratio);
    let router = router::Router::new(
        platform.pool.clone(),
        platform.outbox.clone(),
        live.clone(),
        catalog,
        sla,
        service.clone(),
    );
    // Redis lost the live state (or this is the first start): rebuilt before serving.
    if !live.is_built().await? {
        router.rebuild(false).await?;
    }
    platform.jobs = platform
        .jobs
        .clone()
        .with_handler(
            sla::WARN_JOB,
            timers::SlaWarn {
                router: router.clone(),
                outbox: platform.outbox.clone(),
            },
        )
        .with_handler(
            sla::BREACH_JOB,
            timers::SlaBreach {
                router: router.clone(),
                outbox: platform.outbox.clone(),
            },
        );
    let tasks: Vec<Box<dyn Task>> = vec![
        Box::new(platform.consumer(
            events::TicketCreated::spec().batched(service.consumer_batch),
            events::TicketCreated { router: router.clone() },
        )),
        Box::new(platform.consumer(
            events::TicketStatusChanged::spec(),
            events::TicketStatusChanged { router: router.clone() },
        )),
        Box::new(platform.consumer(
            events::MessageAdded::spec(),
            events::MessageAdded { router: router.clone() },
        )),
        Box::new(router::Dispatcher { router: router.clone() }),
    ];
    let presence = agents::Presence::new(platform.redis.clone(), service.presence_ttl_secs);
    let api = Api::new(api::openapi(), move |cfg| api::configure(cfg, &router, &presence));
    Application::build(platform, &settings, api, tasks).await
}
