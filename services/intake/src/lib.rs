//! Intake: every channel in — tickets recorded, classified and handed on.

pub mod adapters;
pub mod api;
pub mod consumers;
pub mod core;
pub mod domain;
pub mod events;
pub mod jobs;
pub mod settings;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use platform::config::Settings;
use platform::http::Api;
use platform::{Application, Platform, ServiceSpec};
use sqlx::migrate::Migrator;

use crate::adapters::rate_limit::CreateLimit;
use crate::core::kb_index::{KbIndex, KbRefresher};
use crate::core::lifecycle::Lifecycle;
use crate::core::open::{self, Opener};
use crate::core::reports::Rollups;
use crate::core::surveys::SurveyLinks;
use crate::domain::classify::Classifier;
use crate::settings::IntakeSettings;

pub const NAME: &str = "intake";

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

pub static SPEC: ServiceSpec<IntakeSettings> = ServiceSpec {
    name: NAME,
    env_prefix: "INTAKE",
    defaults: include_str!("../config/default.toml"),
    list_keys: &["service.follow_up_categories"],
    migrations: &MIGRATIONS,
    build: |settings| Box::pin(build(settings)),
};

/// Connects, migrates and builds the service, ready to run.
pub async fn build(settings: Settings<IntakeSettings>) -> anyhow::Result<Application> {
    let mut platform = Platform::connect(NAME, &settings, &MIGRATIONS).await?;
    let service = Arc::new(settings.service.clone());
    let lifecycle = Lifecycle {
        outbox: platform.outbox.clone(),
        jobs: platform.jobs.clone(),
        clock: platform.clock.clone(),
        timing: service.timing(),
        surveys: SurveyLinks::new(
            &service.survey_signing_key,
            service.survey_valid_days,
            platform.clock.clone(),
        ),
        follow_up_categories: Arc::new(service.follow_up_categories.clone()),
    };
    platform.jobs = platform
        .jobs
        .clone()
        .with_handler(
            jobs::AUTO_CLOSE_JOB,
            jobs::TimedTransition::auto_close(lifecycle.clone()),
        )
        .with_handler(
            jobs::ANSWER_TIMEOUT_JOB,
            jobs::TimedTransition::answer_timeout(lifecycle.clone()),
        );
    let classifier = Arc::new(Classifier::new(service.rules()?));
    let kb = KbIndex::new(
        platform.pool.clone(),
        classifier.clone(),
        Duration::from_secs(service.kb_cache_secs.max(1)),
    );
    let opener = Opener {
        platform: platform.clone(),
        settings: service.clone(),
        classifier: classifier.clone(),
        lifecycle: lifecycle.clone(),
        limit: CreateLimit {
            redis: platform.redis.clone(),
            limit: service.create_limit,
            window_secs: service.create_limit_window_secs,
        },
        writer: open::ticket_writer(&platform, service.create_batch),
        reader: open::context_reader(&platform, service.context_windows(), service.create_batch),
        kb: kb.clone(),
    };
    let api = Api::new(api::openapi(), move |cfg| api::configure(cfg, &opener));
    let rollups = Rollups {
        pool: platform.pool.clone(),
        clock: platform.clock.clone(),
        interval: Duration::from_secs(service.report_rollup_interval_secs.max(1)),
    };
    let assigned = platform.consumer(
        consumers::TicketAssigned::spec(),
        consumers::TicketAssigned {
            lifecycle: lifecycle.clone(),
        },
    );
    let refunds = platform.consumer(
        consumers::RefundRequests::spec(),
        consumers::RefundRequests {
            lifecycle: lifecycle.clone(),
        },
    );
    Application::build(
        platform,
        &settings,
        api,
        vec![
            Box::new(rollups),
            Box::new(assigned),
            Box::new(refunds),
            Box::new(KbRefresher(kb)),
        ],
    )
    .await
}
