//! Intake: every channel in — tickets recorded, classified and handed on.

pub mod api;
pub mod consumers;
pub mod domain;
pub mod events;
pub mod kb_index;
pub mod lifecycle;
pub mod open;
pub mod reports;
pub mod store;
pub mod surveys;

use platform::config::{ConfigError, Settings, Validate};
use platform::http::Api;
use platform::{Application, Platform, ServiceSpec};
use serde::Deserialize;
use sqlx::migrate::Migrator;

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

/// The `[service]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeSettings {
    pub max_subject_chars: usize,
    pub max_body_chars: usize,
    pub classification_rules: String,
    pub repeat_contact_window_hours: u32,
    pub auto_close_after_hours: u32,
    pub reopen_window_hours: u32,
    pub duplicate_window_minutes: u32,
    pub duplicate_min_similarity: f64,
    pub create_limit: u32,
    pub create_limit_window_secs: u32,
    /// At most this many new tickets of concurrent requests written in one statement.
    pub create_batch: usize,
    /// Seconds a replica answers new tickets from its copy of the knowledge base before checking
    /// for changes made elsewhere.
    pub kb_cache_secs: u64,
    pub auto_answer_min_confidence: f64,
    pub auto_answer_wait_minutes: u32,
    pub incident_window_minutes: u32,
    pub incident_min_tickets: u32,
    pub incident_min_overlap: f64,
    pub survey_valid_days: u32,
    pub survey_signing_key: secrecy::SecretString,
    pub follow_up_after_hours: u32,
    pub follow_up_categories: Vec<String>,
    pub report_rollup_interval_secs: u64,
    #[serde(default)]
    pub resolution_target_hours: std::collections::BTreeMap<String, u32>,
}

impl IntakeSettings {
    /// How far back opening a ticket looks.
    pub fn context_windows(&self) -> store::ContextWindows {
        store::ContextWindows {
            repeat_hours: self.repeat_contact_window_hours,
            duplicate_minutes: self.duplicate_window_minutes,
            incident_minutes: self.incident_window_minutes,
        }
    }

    /// The shipped `[service]` defaults (for tests and tools).
    pub fn defaults() -> Self {
        #[derive(Deserialize)]
        struct File {
            service: IntakeSettings,
        }
        #[allow(clippy::expect_used)]
        toml::from_str::<File>(include_str!("../config/default.toml"))
            .expect("the shipped defaults parse")
            .service
    }

    /// The classification rules: the configured file, or the shipped ones.
    pub fn rules(&self) -> Result<domain::classify::Rules, ConfigError> {
        let text = if self.classification_rules.is_empty() {
            domain::classify::DEFAULT_RULES.to_owned()
        } else {
            std::fs::read_to_string(&self.classification_rules).map_err(|e| {
                ConfigError::key(
                    "service.classification_rules",
                    format!("{}: {e}", self.classification_rules),
                )
            })?
        };
        domain::classify::Rules::parse(&text).map_err(|e| ConfigError::key("service.classification_rules", e))
    }
}

impl Validate for IntakeSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.max_subject_chars == 0 || self.max_body_chars == 0 {
            return Err(ConfigError::key("service.max_subject_chars", "limits must be positive"));
        }
        for (key, value) in [
            ("service.duplicate_min_similarity", self.duplicate_min_similarity),
            ("service.auto_answer_min_confidence", self.auto_answer_min_confidence),
            ("service.incident_min_overlap", self.incident_min_overlap),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(ConfigError::key(key, "must be between 0 and 1"));
            }
        }
        if self.create_limit == 0 || self.create_limit_window_secs == 0 {
            return Err(ConfigError::key("service.create_limit", "must be positive"));
        }
        if self.create_batch == 0 {
            return Err(ConfigError::key("service.create_batch", "must be positive"));
        }
        if self.incident_min_tickets < 2 {
            return Err(ConfigError::key("service.incident_min_tickets", "must be at least 2"));
        }
        if secrecy::ExposeSecret::expose_secret(&self.survey_signing_key).len() < 16 {
            return Err(ConfigError::key(
                "service.survey_signing_key",
                "must be at least 16 characters",
            ));
        }
        for (key, categories) in [
            (
                "service.follow_up_categories",
                self.follow_up_categories.iter().collect::<Vec<_>>(),
            ),
            (
                "service.resolution_target_hours",
                self.resolution_target_hours.keys().collect(),
            ),
        ] {
            if let Some(unknown) = categories
                .into_iter()
                .find(|c| !domain::classify::CATEGORIES.contains(&c.as_str()))
            {
                return Err(ConfigError::key(key, format!("unknown category `{unknown}`")));
            }
        }
        self.rules().map(|_| ())
    }
}

/// Connects, migrates and builds the service, ready to run.
pub async fn build(settings: Settings<IntakeSettings>) -> anyhow::Result<Application> {
    let mut platform = Platform::connect(NAME, &settings, &MIGRATIONS).await?;
    let service = std::sync::Arc::new(settings.service.clone());
    if secrecy::ExposeSecret::expose_secret(&service.survey_signing_key).starts_with("development-") {
        tracing::warn!("service.survey_signing_key is the development key: set INTAKE__SERVICE__SURVEY_SIGNING_KEY");
    }
    let lifecycle = lifecycle::Lifecycle {
        outbox: platform.outbox.clone(),
        jobs: platform.jobs.clone(),
        timing: lifecycle::Timing {
            auto_close_after_hours: service.auto_close_after_hours,
            reopen_window_hours: service.reopen_window_hours,
            follow_up_after_hours: service.follow_up_after_hours,
        },
        surveys: surveys::SurveyLinks::new(&service.survey_signing_key, service.survey_valid_days),
        follow_up_categories: std::sync::Arc::new(service.follow_up_categories.clone()),
    };
    platform.jobs = platform
        .jobs
        .clone()
        .with_handler(
            lifecycle::AUTO_CLOSE_JOB,
            lifecycle::TimedTransition::auto_close(lifecycle.clone()),
        )
        .with_handler(
            lifecycle::ANSWER_TIMEOUT_JOB,
            lifecycle::TimedTransition::answer_timeout(lifecycle.clone()),
        );
    let classifier = std::sync::Arc::new(domain::classify::Classifier::new(service.rules()?));
    let kb = kb_index::KbIndex::new(
        platform.pool.clone(),
        classifier.clone(),
        std::time::Duration::from_secs(service.kb_cache_secs.max(1)),
    );
    let opener = open::Opener {
        platform: platform.clone(),
        settings: service.clone(),
        classifier: classifier.clone(),
        lifecycle: lifecycle.clone(),
        writer: open::ticket_writer(&platform, service.create_batch),
        reader: open::context_reader(&platform, &service, service.create_batch),
        kb: kb.clone(),
    };
    let api = Api::new(api::openapi(), move |cfg| api::configure(cfg, &opener));
    let rollups = reports::Rollups {
        pool: platform.pool.clone(),
        interval: std::time::Duration::from_secs(settings.service.report_rollup_interval_secs.max(1)),
    };
    let assigned = platform.consumer(
        consumers::TicketAssigned::spec(),
        consumers::TicketAssigned {
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
            Box::new(kb_index::KbRefresher(kb)),
        ],
    )
    .await
}
