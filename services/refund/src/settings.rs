//! The `[service]` section of refund's settings.

use platform::config::{ConfigError, Validate};
use serde::Deserialize;

use crate::domain::refund::{self, RefundLimits};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundSettings {
    #[serde(deserialize_with = "platform::config::one_or_many")]
    pub currencies: Vec<String>,
    pub max_amount_minor: i64,
}

impl RefundSettings {
    /// The limits a request is checked against.
    pub fn limits(&self) -> RefundLimits {
        RefundLimits {
            currencies: self.currencies.clone(),
            max_amount_minor: self.max_amount_minor,
        }
    }
}

impl Validate for RefundSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.currencies.is_empty() || !self.currencies.iter().all(|c| refund::is_currency_code(c)) {
            return Err(ConfigError::key(
                "service.currencies",
                "must list ISO 4217 codes such as CNY",
            ));
        }
        if self.max_amount_minor <= 0 {
            return Err(ConfigError::key("service.max_amount_minor", "must be positive"));
        }
        Ok(())
    }
}
