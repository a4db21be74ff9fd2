//! The `[service]` section of refund's settings.

use platform::config::{ConfigError, Validate};
use serde::Deserialize;

use crate::domain::enrolment::{EnrolmentLimits, is_currency_code};
use crate::domain::workflow::ApprovalLimits;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundSettings {
    /// Currencies an enrolment may be paid in (ISO 4217).
    #[serde(deserialize_with = "platform::config::one_or_many")]
    pub currencies: Vec<String>,
    pub approval: ApprovalSettings,
}

/// `[service.approval]`: who decides a request, by its amount.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalSettings {
    /// Approved at filing, without anyone, when inside the cooling-off period and at most this.
    pub auto_max_minor: i64,
    /// An agent approves up to this; more needs a supervisor (or an admin).
    pub agent_max_minor: i64,
}

impl RefundSettings {
    /// What an enrolment record is checked against.
    pub fn enrolment_limits(&self) -> EnrolmentLimits {
        EnrolmentLimits {
            currencies: self.currencies.clone(),
        }
    }

    /// Who decides a request.
    pub fn approval_limits(&self) -> ApprovalLimits {
        ApprovalLimits {
            auto_max_minor: self.approval.auto_max_minor,
            agent_max_minor: self.approval.agent_max_minor,
        }
    }
}

impl Validate for RefundSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.currencies.is_empty() || !self.currencies.iter().all(|c| is_currency_code(c)) {
            return Err(ConfigError::key(
                "service.currencies",
                "must list ISO 4217 codes such as CNY",
            ));
        }
        let a = &self.approval;
        if a.auto_max_minor < 0 {
            return Err(ConfigError::key(
                "service.approval.auto_max_minor",
                "must be at least 0 (0 turns automatic approval off)",
            ));
        }
        if a.agent_max_minor < 1 {
            return Err(ConfigError::key("service.approval.agent_max_minor", "must be positive"));
        }
        if a.auto_max_minor > a.agent_max_minor {
            return Err(ConfigError::key(
                "service.approval.auto_max_minor",
                "must not exceed service.approval.agent_max_minor: what is approved without anyone must be \
                 within what an agent may approve",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(auto: i64, agent: i64) -> RefundSettings {
        RefundSettings {
            currencies: vec!["CNY".into()],
            approval: ApprovalSettings {
                auto_max_minor: auto,
                agent_max_minor: agent,
            },
        }
    }

    #[test]
    fn approval_limits_are_checked_together() {
        assert!(settings(100_000, 300_000).validate().is_ok());
        assert!(settings(0, 1).validate().is_ok());
        for (auto, agent, key) in [
            (-1, 300_000, "service.approval.auto_max_minor"),
            (0, 0, "service.approval.agent_max_minor"),
            (300_001, 300_000, "service.approval.auto_max_minor"),
        ] {
            let err = settings(auto, agent).validate().expect_err("invalid").to_string();
            assert!(err.contains(key), "{err}");
        }
    }
}
