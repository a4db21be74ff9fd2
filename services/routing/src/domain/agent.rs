//! Agents: tier, skills, languages, capacity per channel, working hours and supervisor.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveTime, Utc};
use platform::ApiError;
use platform::error::Validator;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub const TIERS: [&str; 3] = ["junior", "mid", "senior"];
/// Skills: the ticket categories, as intake classifies them, then the technical sub-skills.
pub const SKILLS: [&str; 11] = [
    "course_consultation",
    "technical",
    "learning_progress",
    "refund",
    "complaint",
    "course_suggestion",
    "resource_request",
    "other",
    "technical.hardware",
    "technical.software",
    "technical.network",
];
/// The ticket categories (the skills before the sub-skills).
pub const CATEGORIES: &[&str] = SKILLS.split_at(8).0;
pub const LANGUAGES: [&str; 2] = ["zh-CN", "en"];
pub const CHANNELS: [&str; 6] = ["web", "chat", "email", "phone", "walk_in", "api"];
/// Customer segments policies can match.
pub const SEGMENTS: [&str; 3] = ["new_user", "vip", "special_needs"];
pub const PRESENCE: [&str; 3] = ["online", "away", "offline"];

/// A weekly working window in the agent's time zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkingHours {
    /// ISO weekdays, 1 = Monday … 7 = Sunday.
    pub days: Vec<u8>,
    /// `HH:MM`, local time.
    #[schema(example = "09:00")]
    pub start: String,
    #[schema(example = "18:00")]
    pub end: String,
}

/// An agent as supervisors define them (the whole profile).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentProfile {
    pub display_name: String,
    /// `junior`, `mid` or `senior`.
    pub tier: String,
    /// Ticket categories and technical sub-skills (`technical.hardware`, …).
    #[serde(default)]
    pub skills: Vec<String>,
    /// `zh-CN`, `en`; default `zh-CN`.
    #[serde(default)]
    pub languages: Vec<String>,
    /// Concurrent tickets per channel, e.g. `{"chat": 3, "email": 8}`.
    #[schema(value_type = Object, example = json!({"chat": 3, "email": 8}))]
    pub capacity: BTreeMap<String, u16>,
    /// IANA time zone; default `Asia/Shanghai`.
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub working_hours: Vec<WorkingHours>,
    #[serde(default)]
    pub supervisor_id: Option<Uuid>,
    /// Inactive agents are kept but never offered tickets; default true.
    #[serde(default)]
    pub active: Option<bool>,
}

pub fn parse_time(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M").ok()
}

impl AgentProfile {
    /// Checks every field, naming each bad one; returns the profile with defaults filled in.
    pub fn validate(mut self, id: Uuid) -> Result<Self, ApiError> {
        let mut v = Validator::new();
        v.text(&self.display_name, "display_name", 200);
        v.check(
            TIERS.contains(&self.tier.as_str()),
            "tier",
            "must be junior, mid or senior",
        );
        for s in &self.skills {
            v.one_of(s, &SKILLS, "skills");
        }
        if self.languages.is_empty() {
            self.languages.push("zh-CN".to_owned());
        }
        for l in &self.languages {
            v.check(LANGUAGES.contains(&l.as_str()), "languages", "each must be zh-CN or en");
        }
        v.check(
            !self.capacity.is_empty(),
            "capacity",
            "give at least one channel's capacity",
        );
        for (channel, n) in &self.capacity {
            v.one_of(channel, &CHANNELS, "capacity");
            v.check(*n <= 50, "capacity", "at most 50 tickets at once per channel");
        }
        let zone = self.time_zone.get_or_insert_with(|| "Asia/Shanghai".to_owned());
        v.time_zone(zone, "time_zone");
        for (i, w) in self.working_hours.iter().enumerate() {
            let field = format!("working_hours[{i}]");
            v.check(
                !w.days.is_empty() && w.days.iter().all(|d| (1..=7).contains(d)),
                &field,
                "days are ISO weekdays 1 (Monday) to 7 (Sunday)",
            );
            match (parse_time(&w.start), parse_time(&w.end)) {
                (Some(a), Some(b)) => v.check(a < b, &field, "start must be before end"),
                _ => v.check(false, &field, "start and end are HH:MM"),
            };
        }
        v.check(
            self.supervisor_id != Some(id),
            "supervisor_id",
            "an agent is not their own supervisor",
        );
        v.finish()?;
        self.skills.sort();
        self.skills.dedup();
        self.languages.sort();
        self.languages.dedup();
        self.display_name = self.display_name.trim().to_owned();
        self.active.get_or_insert(true);
        Ok(self)
    }
}

/// Whether `at` falls in the agent's working hours (no hours given: always).
pub fn is_working(hours: &[WorkingHours], time_zone: &str, at: DateTime<Utc>) -> bool {
    if hours.is_empty() {
        return true;
    }
    let Ok(tz) = time_zone.parse::<chrono_tz::Tz>() else {
        return false;
    };
    let local = at.with_timezone(&tz);
    let day = u8::try_from(local.weekday().number_from_monday()).unwrap_or(0);
    let time = local.time();
    hours.iter().any(|w| {
        w.days.contains(&day)
            && matches!((parse_time(&w.start), parse_time(&w.end)), (Some(a), Some(b)) if a <= time && time < b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> AgentProfile {
        AgentProfile {
            display_name: " 李老师 ".into(),
            tier: "mid".into(),
            skills: vec!["refund".into(), "technical.network".into(), "refund".into()],
            languages: vec![],
            capacity: BTreeMap::from([("chat".into(), 3), ("email".into(), 8)]),
            time_zone: None,
            working_hours: vec![WorkingHours {
                days: vec![1, 2, 3, 4, 5],
                start: "09:00".into(),
                end: "18:00".into(),
            }],
            supervisor_id: None,
            active: None,
        }
    }

    #[test]
    fn a_profile_gets_its_defaults() {
        let p = profile().validate(Uuid::new_v4()).expect("valid");
        assert_eq!(p.skills, ["refund", "technical.network"]);
        assert_eq!(p.languages, ["zh-CN"]);
        assert_eq!(p.time_zone.as_deref(), Some("Asia/Shanghai"));
        assert_eq!(p.active, Some(true));
    }

    #[test]
    fn each_bad_field_is_named() {
        let mut p = profile();
        p.tier = "guru".into();
        p.skills.push("astrology".into());
        p.capacity.insert("fax".into(), 99);
        p.working_hours[0].end = "08:00".into();
        let err = p.validate(Uuid::new_v4()).expect_err("invalid");
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["tier", "skills", "capacity", "capacity", "working_hours[0]"]);
    }

    #[test]
    fn working_hours_are_local_to_the_agent() {
        let hours = profile().working_hours;
        // Monday 2026-11-23 02:00 UTC is 10:00 in Shanghai, 21:00 Sunday in New York.
        let at = DateTime::parse_from_rfc3339("2026-11-23T02:00:00Z")
            .expect("time")
            .to_utc();
        assert!(is_working(&hours, "Asia/Shanghai", at));
        assert!(!is_working(&hours, "America/New_York", at));
        assert!(is_working(&[], "Asia/Shanghai", at));
    }
}
