//! The `[service]` section of training-scheduling's settings.

use platform::config::{ConfigError, Validate};
use serde::Deserialize;

use crate::domain::offering::ScheduleLimits;
use crate::domain::recurrence::RecurrenceLimits;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulingSettings {
    pub max_session_minutes: i64,
    pub max_capacity: i32,
    pub max_occurrences: u16,
    pub max_horizon_days: i64,
    pub public_base_url: String,
}

impl SchedulingSettings {
    /// The limits a new class or training is checked against.
    pub fn limits(&self) -> ScheduleLimits {
        ScheduleLimits {
            max_session_minutes: self.max_session_minutes,
            max_capacity: self.max_capacity,
            recurrence: RecurrenceLimits {
                max_occurrences: self.max_occurrences,
                max_horizon_days: self.max_horizon_days,
            },
        }
    }
}

impl Validate for SchedulingSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.max_session_minutes <= 0 {
            return Err(ConfigError::key("service.max_session_minutes", "must be positive"));
        }
        if self.max_capacity <= 0 {
            return Err(ConfigError::key("service.max_capacity", "must be positive"));
        }
        if !(1..=1000).contains(&self.max_occurrences) {
            return Err(ConfigError::key("service.max_occurrences", "must be 1 to 1000"));
        }
        if self.max_horizon_days <= 0 {
            return Err(ConfigError::key("service.max_horizon_days", "must be positive"));
        }
        let url = self.public_base_url.trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.contains(char::is_whitespace) {
            return Err(ConfigError::key(
                "service.public_base_url",
                "must be an http(s) URL such as https://api.example.com/scheduling",
            ));
        }
        Ok(())
    }
}
