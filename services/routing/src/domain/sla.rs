//! Service levels: which targets apply to a ticket, and clocks that may count business hours
//! only.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::agent::{WorkingHours, parse_time};

pub const METRICS: [&str; 3] = ["first_response", "next_update", "resolution"];

/// Opening hours a policy's clock counts (outside them the clock stands still).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    /// IANA time zone the hours are in.
    pub time_zone: String,
    pub hours: Vec<WorkingHours>,
}

impl BusinessHours {
    /// Open intervals (UTC) on local days from the day before `from`, in order.
    fn intervals(&self, from: DateTime<Utc>) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        let tz: Tz = self.time_zone.parse().unwrap_or(Tz::UTC);
        let first: NaiveDate = from.with_timezone(&tz).date_naive() - Duration::days(1);
        (0..800).flat_map(move |offset| {
            let day = first + Duration::days(offset);
            let weekday = u8::try_from(day.weekday().number_from_monday()).unwrap_or(0);
            let mut windows: Vec<(DateTime<Utc>, DateTime<Utc>)> = self
                .hours
                .iter()
                .filter(|w| w.days.contains(&weekday))
                .filter_map(|w| {
                    let (a, b) = (parse_time(&w.start)?, parse_time(&w.end)?);
                    let start = tz.from_local_datetime(&day.and_time(a)).earliest()?.to_utc();
                    let end = tz.from_local_datetime(&day.and_time(b)).latest()?.to_utc();
                    (start < end).then_some((start, end))
                })
                .collect();
            windows.sort();
            // Overlapping windows count once.
            let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::with_capacity(windows.len());
            for (s, e) in windows {
                match merged.last_mut() {
                    Some(last) if s <= last.1 => last.1 = last.1.max(e),
                    _ => merged.push((s, e)),
                }
            }
            merged
        })
    }
}

/// The instant `secs` of counted time after `start`.
pub fn add(start: DateTime<Utc>, secs: f64, hours: Option<&BusinessHours>) -> DateTime<Utc> {
    let millis = |s: f64| Duration::milliseconds((s * 1000.0).round() as i64);
    let Some(bh) = hours.filter(|b| !b.hours.is_empty()) else {
        return start + millis(secs.max(0.0));
    };
    let mut remaining = secs.max(0.0);
    for (s, e) in bh.intervals(start) {
        if e <= start {
            continue;
        }
        let from = s.max(start);
        let available = (e - from).num_milliseconds() as f64 / 1000.0;
        if available >= remaining {
            return from + millis(remaining);
        }
        remaining -= available;
    }
    // No opening hours in the next two years: the clock never runs out in practice.
    start + Duration::days(800)
}

/// Counted seconds between `a` and `b`.
pub fn elapsed(a: DateTime<Utc>, b: DateTime<Utc>, hours: Option<&BusinessHours>) -> f64 {
    if b <= a {
        return 0.0;
    }
    let Some(bh) = hours.filter(|b| !b.hours.is_empty()) else {
        return (b - a).num_milliseconds() as f64 / 1000.0;
    };
    let mut total = 0.0;
    for (s, e) in bh.intervals(a) {
        if s >= b {
            break;
        }
        let (from, to) = (s.max(a), e.min(b));
        if to > from {
            total += (to - from).num_milliseconds() as f64 / 1000.0;
        }
    }
    total
}

/// A policy as matching sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Policy {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Match lists; empty matches everything.
    #[serde(default)]
    pub channels: Vec<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    /// Customer segments (`vip`, `new_user`, `special_needs`).
    #[serde(default)]
    pub segments: Vec<String>,
    #[serde(default)]
    pub priorities: Vec<String>,
    /// The tier the ticket needs (`junior` tickets are the simple ones).
    #[serde(default)]
    pub tiers: Vec<String>,
    pub first_response_secs: Option<i64>,
    pub next_update_secs: Option<i64>,
    pub resolution_secs: Option<i64>,
    #[serde(default)]
    #[schema(value_type = Option<BusinessHours>)]
    pub business_hours: Option<sqlx::types::Json<BusinessHours>>,
    /// A breach moves the ticket up a tier (default true).
    #[serde(default = "yes")]
    pub escalate_on_breach: bool,
    #[serde(default)]
    pub precedence: i32,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// What a policy is matched against.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub channel: String,
    pub category: Option<String>,
    pub segments: Vec<String>,
    pub priority: String,
    pub tier: String,
}

/// A target chosen for a ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub metric: &'static str,
    pub policy: String,
    pub secs: i64,
    pub hours: Option<BusinessHours>,
    pub escalate: bool,
}

impl Policy {
    fn matches(&self, f: &Facts) -> bool {
        let any = |list: &[String], v: &str| list.is_empty() || list.iter().any(|x| x == v);
        self.active
            && any(&self.channels, &f.channel)
            && (self.categories.is_empty() || f.category.as_ref().is_some_and(|c| self.categories.contains(c)))
            && (self.segments.is_empty() || self.segments.iter().any(|s| f.segments.contains(s)))
            && any(&self.priorities, &f.priority)
            && any(&self.tiers, &f.tier)
    }

    fn specificity(&self) -> usize {
        [
            &self.channels,
            &self.categories,
            &self.segments,
            &self.priorities,
            &self.tiers,
        ]
        .iter()
        .filter(|l| !l.is_empty())
        .count()
    }

    pub fn secs(&self, metric: &str) -> Option<i64> {
        match metric {
            "first_response" => self.first_response_secs,
            "next_update" => self.next_update_secs,
            "resolution" => self.resolution_secs,
            _ => None,
        }
    }
}

/// Each metric's target from the most specific matching policy that sets it (then highest
/// precedence, then name).
pub fn targets(policies: &[Policy], facts: &Facts) -> Vec<Target> {
    METRICS
        .iter()
        .filter_map(|metric| {
            policies
                .iter()
                .filter(|p| p.matches(facts))
                .filter_map(|p| p.secs(metric).map(|s| (p, s)))
                .max_by(|(a, _), (b, _)| {
                    (a.specificity(), a.precedence)
                        .cmp(&(b.specificity(), b.precedence))
                        .then_with(|| b.name.cmp(&a.name))
                })
                .map(|(p, secs)| Target {
                    metric,
                    policy: p.name.clone(),
                    secs,
                    hours: p.business_hours.as_ref().map(|h| h.0.clone()),
                    escalate: p.escalate_on_breach,
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("time").to_utc()
    }

    fn office() -> BusinessHours {
        BusinessHours {
            time_zone: "Asia/Shanghai".into(),
            hours: vec![WorkingHours {
                days: vec![1, 2, 3, 4, 5],
                start: "09:00".into(),
                end: "18:00".into(),
            }],
        }
    }

    #[test]
    fn without_hours_the_clock_is_the_wall_clock() {
        let start = at("2026-11-27T10:00:00Z");
        assert_eq!(add(start, 300.0, None), at("2026-11-27T10:05:00Z"));
        assert_eq!(elapsed(start, at("2026-11-27T10:05:00Z"), None), 300.0);
    }

    #[test]
    fn business_hours_skip_nights_and_weekends() {
        // Friday 2026-11-27 17:00 Shanghai (09:00 UTC): one hour left that day, then Monday.
        let friday_five = at("2026-11-27T09:00:00Z");
        let due = add(friday_five, 2.0 * 3600.0, Some(&office()));
        // Monday 2026-11-30 10:00 Shanghai = 02:00 UTC.
        assert_eq!(due, at("2026-11-30T02:00:00Z"));
        assert_eq!(elapsed(friday_five, due, Some(&office())), 7200.0);
        // Started on Saturday: the clock starts Monday 09:00.
        assert_eq!(
            add(at("2026-11-28T03:00:00Z"), 60.0, Some(&office())),
            at("2026-11-30T01:01:00Z")
        );
    }

    fn policy(name: &str, channels: &[&str], tiers: &[&str], fr: Option<i64>, res: Option<i64>) -> Policy {
        Policy {
            name: name.into(),
            description: String::new(),
            channels: channels.iter().map(|s| (*s).to_owned()).collect(),
            categories: vec![],
            segments: vec![],
            priorities: vec![],
            tiers: tiers.iter().map(|s| (*s).to_owned()).collect(),
            first_response_secs: fr,
            next_update_secs: None,
            resolution_secs: res,
            business_hours: None,
            escalate_on_breach: true,
            precedence: 0,
            active: true,
        }
    }

    #[test]
    fn each_metric_comes_from_the_most_specific_policy_setting_it() {
        let policies = vec![
            policy("default", &[], &[], Some(300), Some(86400)),
            policy("live-chat", &["chat"], &[], Some(30), None),
            policy("simple", &[], &["junior"], None, Some(600)),
        ];
        let facts = Facts {
            channel: "chat".into(),
            tier: "junior".into(),
            priority: "normal".into(),
            ..Facts::default()
        };
        let t = targets(&policies, &facts);
        assert_eq!(t.len(), 2);
        assert_eq!(
            (t[0].metric, t[0].policy.as_str(), t[0].secs),
            ("first_response", "live-chat", 30)
        );
        assert_eq!(
            (t[1].metric, t[1].policy.as_str(), t[1].secs),
            ("resolution", "simple", 600)
        );
        let email_senior = Facts {
            channel: "email".into(),
            tier: "senior".into(),
            ..facts
        };
        let t = targets(&policies, &email_senior);
        assert_eq!((t[0].policy.as_str(), t[0].secs), ("default", 300));
        assert_eq!((t[1].policy.as_str(), t[1].secs), ("default", 86400));
    }
}
