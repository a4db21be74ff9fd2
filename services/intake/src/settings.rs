//! The `[service]` settings of intake, checked at start-up. Domain code gets small rule structs
//! built from them ([`TicketLimits`], [`ContextWindows`], [`Timing`]), never the whole struct.

use platform::config::{ConfigError, Validate};
use serde::Deserialize;

use crate::domain::classify::{self, Rules};
use crate::domain::lifecycle::Timing;
use crate::domain::ticket::{ContextWindows, TicketLimits};

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
    #[serde(deserialize_with = "platform::config::one_or_many")]
    pub follow_up_categories: Vec<String>,
    pub report_rollup_interval_secs: u64,
    #[serde(default)]
    pub resolution_target_hours: std::collections::BTreeMap<String, u32>,
}

impl IntakeSettings {
    /// How long a ticket's subject and body may be.
    pub fn ticket_limits(&self) -> TicketLimits {
        TicketLimits {
            max_subject_chars: self.max_subject_chars,
            max_body_chars: self.max_body_chars,
        }
    }

    /// How far back opening a ticket looks.
    pub fn context_windows(&self) -> ContextWindows {
        ContextWindows {
            repeat_hours: self.repeat_contact_window_hours,
            duplicate_minutes: self.duplicate_window_minutes,
            incident_minutes: self.incident_window_minutes,
        }
    }

    /// The lifecycle's timers and windows.
    pub fn timing(&self) -> Timing {
        Timing {
            auto_close_after_hours: self.auto_close_after_hours,
            reopen_window_hours: self.reopen_window_hours,
            follow_up_after_hours: self.follow_up_after_hours,
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
    pub fn rules(&self) -> Result<Rules, ConfigError> {
        let text = if self.classification_rules.is_empty() {
            classify::DEFAULT_RULES.to_owned()
        } else {
            std::fs::read_to_string(&self.classification_rules).map_err(|e| {
                ConfigError::key(
                    "service.classification_rules",
                    format!("{}: {e}", self.classification_rules),
                )
            })?
        };
        Rules::parse(&text).map_err(|e| ConfigError::key("service.classification_rules", e))
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
                .find(|c| !classify::CATEGORIES.contains(&c.as_str()))
            {
                return Err(ConfigError::key(key, format!("unknown category `{unknown}`")));
            }
        }
        self.rules().map(|_| ())
    }

    /// Survey links are signed with this key and open without a login: the public development
    /// key would let anyone forge them.
    fn validate_for_production(&self) -> Result<(), ConfigError> {
        let key = secrecy::ExposeSecret::expose_secret(&self.survey_signing_key);
        if key.starts_with("development-") {
            return Err(ConfigError::key(
                "service.survey_signing_key",
                "is the public development key, refused in production: set INTAKE__SERVICE__SURVEY_SIGNING_KEY",
            ));
        }
        if key.len() < 32 {
            return Err(ConfigError::key(
                "service.survey_signing_key",
                "must be at least 32 bytes in production",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use platform::config::{Settings, load_from};

    use super::IntakeSettings;

    fn load(extra: &[(&str, &str)]) -> Result<Settings<IntakeSettings>, platform::config::ConfigError> {
        let mut vars: HashMap<String, String> = [
            ("INTAKE__RUNTIME__ENVIRONMENT", "production"),
            (
                "INTAKE__AUTH__JWT_SECRET",
                "a-production-signing-key-of-32-bytes-or-more",
            ),
            ("INTAKE__AUTH__ISSUER", "https://auth.example.com"),
            ("INTAKE__AUTH__AUDIENCE", "edu-support"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for (k, v) in extra {
            vars.insert((*k).to_owned(), (*v).to_owned());
        }
        load_from("INTAKE", crate::SPEC.defaults, crate::SPEC.list_keys, &vars)
    }

    #[test]
    fn production_refuses_the_development_survey_key_and_short_ones() {
        let err = load(&[]).expect_err("the default survey key");
        assert!(err.to_string().contains("service.survey_signing_key"), "{err}");
        let short = load(&[("INTAKE__SERVICE__SURVEY_SIGNING_KEY", "only-twenty-chars!!")]);
        assert!(short.is_err(), "at least 32 bytes in production");
        let key = (
            "INTAKE__SERVICE__SURVEY_SIGNING_KEY",
            "a-survey-signing-key-of-32-bytes-or-more",
        );
        assert!(load(&[key]).is_ok());
        assert!(load(&[("INTAKE__RUNTIME__ENVIRONMENT", "development")]).is_ok());
    }
}
