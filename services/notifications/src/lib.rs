//! Notifications: events become messages to customers, agents, supervisors and the company's
//! systems, on the right channels, once.

pub mod adapters;
pub mod api;
pub mod consumers;
pub mod core;
pub mod domain;
pub mod jobs;
pub mod settings;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use platform::config::Settings;
use platform::http::Api;
use platform::{Application, Platform, ServiceSpec, Task};
use sqlx::migrate::Migrator;

use crate::core::catalog::Catalog;
use crate::core::dispatch::Dispatcher;
use crate::core::fanout::Fanout;
use crate::settings::NotificationSettings;

pub const NAME: &str = "notifications";

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

pub static SPEC: ServiceSpec<NotificationSettings> = ServiceSpec {
    name: NAME,
    env_prefix: "NOTIFICATIONS",
    defaults: include_str!("../config/default.toml"),
    list_keys: &["service.retry_schedule_secs", "service.event_patterns"],
    migrations: &MIGRATIONS,
    build: |settings| Box::pin(build(settings)),
};

/// Connects, migrates and builds the service, ready to run.
pub async fn build(settings: Settings<NotificationSettings>) -> anyhow::Result<Application> {
    let platform = Platform::connect(NAME, &settings, &MIGRATIONS).await?;
    let own = Arc::new(settings.service.clone());
    let catalog = Catalog::new(
        platform.pool.clone(),
        Duration::from_millis(own.catalog_refresh_ms),
        own.default_locale.clone(),
    );
    catalog.reload().await?;
    let providers = adapters::Providers::from_settings(&own)?;
    let dispatcher = Dispatcher::new(platform.clone(), catalog.clone(), providers, &own);
    let patterns: Vec<&str> = own.event_patterns.iter().map(String::as_str).collect();
    let consumer = platform.consumer(
        consumers::Notifier::spec(&patterns).batched(own.consumer_batch),
        consumers::Notifier {
            fanout: Fanout::new(catalog.clone(), own.render_defaults(), platform.clock.clone()),
            wake: dispatcher.waker(),
        },
    );
    let tasks: Vec<Box<dyn Task>> = vec![
        Box::new(consumer),
        Box::new(jobs::Dispatch {
            dispatcher: dispatcher.clone(),
            loops: own.dispatch_loops,
            idle: Duration::from_millis(own.idle_poll_ms),
        }),
        Box::new(jobs::Retention {
            pool: platform.pool.clone(),
            clock: platform.clock.clone(),
            days: own.retention_days,
        }),
    ];
    let state = api::State {
        catalog,
        settings: own,
        wake: dispatcher.waker(),
    };
    let api = Api::new(api::openapi(), move |cfg| api::configure(cfg, &state));
    Application::build(platform, &settings, api, tasks).await
}
