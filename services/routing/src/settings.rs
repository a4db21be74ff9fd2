//! The `[service]` settings of routing, and the small rule structs domain code gets from them.

use platform::config::{ConfigError, Validate};
use serde::Deserialize;

use crate::domain::matching::RelaxAfter;
use crate::domain::queue::{Boosts, is_valid_name};

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
    pub fn relax_after(&self) -> RelaxAfter {
        RelaxAfter {
            language_secs: self.relax_language_after_secs,
            skill_secs: self.relax_skill_after_secs,
            tier_secs: self.relax_tier_after_secs,
        }
    }

    pub fn boosts(&self) -> Boosts {
        Boosts {
            high_priority_secs: self.high_priority_boost_secs,
            urgent_priority_secs: self.urgent_priority_boost_secs,
            vip_secs: self.vip_boost_secs,
            high_emotion_secs: self.high_emotion_boost_secs,
            near_breach_secs: self.near_breach_boost_secs,
        }
    }
}

impl Validate for RoutingSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=1000).contains(&self.consumer_batch) {
            return Err(ConfigError::key("service.consumer_batch", "must be 1 to 1000"));
        }
        if !is_valid_name(&self.default_queue) {
            return Err(ConfigError::key(
                "service.default_queue",
                "must be lowercase letters, digits, '-' or '_'",
            ));
        }
        if !is_valid_name(&self.senior_queue) {
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
