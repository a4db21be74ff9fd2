//! The `[service]` settings of notifications, checked at start-up, and the small rule structs
//! the rest of the service is given instead of the whole section.

use platform::config::{ConfigError, Validate};
use serde::Deserialize;

use crate::domain::LOCALES;
use crate::domain::render::RenderDefaults;
use crate::domain::schedule::RetrySchedule;

/// The `[service]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    pub default_locale: String,
    pub max_page_size: i64,
    pub public_base_url: String,
    #[serde(deserialize_with = "platform::config::one_or_many")]
    pub event_patterns: Vec<String>,
    pub consumer_batch: usize,
    pub catalog_refresh_ms: u64,
    pub dispatch_loops: usize,
    pub dispatch_batch: i64,
    pub dispatch_concurrency: usize,
    pub lease_secs: i64,
    pub idle_poll_ms: u64,
    #[serde(deserialize_with = "platform::config::one_or_many")]
    pub retry_schedule_secs: Vec<u64>,
    pub retry_jitter: f64,
    pub breaker_failures: u32,
    pub breaker_open_secs: u64,
    pub endpoint_disable_after_hours: i64,
    pub send_timeout_ms: u64,
    pub retention_days: i64,
    pub email: ProviderPair<SmtpSettings>,
    pub sms: ProviderPair<SmsSettings>,
    pub webhook: WebhookSettings,
}

/// A channel's provider and the one that takes over while it is paused.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "P: serde::de::DeserializeOwned"))]
pub struct ProviderPair<P> {
    pub primary: P,
    #[serde(default)]
    pub secondary: Option<P>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub url: String,
    pub from: String,
    pub rate_per_sec: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSettings {
    pub url: String,
    pub api_key: String,
    pub rate_per_sec: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    pub rate_per_sec: u32,
}

impl NotificationSettings {
    /// The locale messages fall back to and the base of the links they carry.
    pub fn render_defaults(&self) -> RenderDefaults {
        RenderDefaults {
            default_locale: self.default_locale.clone(),
            public_base_url: self.public_base_url.clone(),
        }
    }

    /// The waits between attempts of a failing send.
    pub fn retry_schedule(&self) -> RetrySchedule {
        RetrySchedule {
            waits_secs: self.retry_schedule_secs.clone(),
            jitter: self.retry_jitter,
        }
    }
}

impl Validate for NotificationSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if !LOCALES.contains(&self.default_locale.as_str()) {
            return Err(ConfigError::key("service.default_locale", "must be zh-CN or en"));
        }
        if !(1..=1000).contains(&self.max_page_size) {
            return Err(ConfigError::key("service.max_page_size", "must be 1 to 1000"));
        }
        if self.event_patterns.is_empty() {
            return Err(ConfigError::key(
                "service.event_patterns",
                "must name at least one pattern",
            ));
        }
        if !(1..=1000).contains(&self.consumer_batch) {
            return Err(ConfigError::key("service.consumer_batch", "must be 1 to 1000"));
        }
        if self.dispatch_loops == 0 || self.dispatch_concurrency == 0 || !(1..=5000).contains(&self.dispatch_batch) {
            return Err(ConfigError::key(
                "service.dispatch_*",
                "loops and concurrency must be at least 1, the batch 1 to 5000",
            ));
        }
        if self.lease_secs < 1 || self.send_timeout_ms == 0 || self.send_timeout_ms / 1000 >= self.lease_secs as u64 {
            return Err(ConfigError::key(
                "service.lease_secs",
                "must be at least 1 and longer than send_timeout_ms",
            ));
        }
        if self.retry_schedule_secs.is_empty() {
            return Err(ConfigError::key(
                "service.retry_schedule_secs",
                "must have at least one wait",
            ));
        }
        if !(0.0..1.0).contains(&self.retry_jitter) {
            return Err(ConfigError::key(
                "service.retry_jitter",
                "must be at least 0 and below 1",
            ));
        }
        if !(1..=3650).contains(&self.retention_days) {
            return Err(ConfigError::key("service.retention_days", "must be 1 to 3650"));
        }
        if self.breaker_failures == 0 {
            return Err(ConfigError::key("service.breaker_failures", "must be at least 1"));
        }
        for (key, rate) in [
            ("service.email.primary.rate_per_sec", self.email.primary.rate_per_sec),
            ("service.sms.primary.rate_per_sec", self.sms.primary.rate_per_sec),
            ("service.webhook.rate_per_sec", self.webhook.rate_per_sec),
        ] {
            if rate == 0 {
                return Err(ConfigError::key(key, "must be at least 1"));
            }
        }
        Ok(())
    }
}
