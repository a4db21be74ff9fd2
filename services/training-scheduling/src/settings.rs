//! The `[service]` section of training-scheduling's settings.

use platform::config::{ConfigError, Validate};
use serde::Deserialize;

use crate::domain::session::SessionLimits;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulingSettings {
    pub max_session_minutes: i64,
    pub max_capacity: i32,
}

impl SchedulingSettings {
    /// The limits a new session is checked against.
    pub fn limits(&self) -> SessionLimits {
        SessionLimits {
            max_session_minutes: self.max_session_minutes,
            max_capacity: self.max_capacity,
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
        Ok(())
    }
}
