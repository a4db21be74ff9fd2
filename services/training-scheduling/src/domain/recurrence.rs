//! Recurrence rules (RFC 5545 `RRULE`, expanded with the `rrule` crate) in the offering's IANA
//! time zone: a weekly class at 18:00 in New York stays at 18:00 local across a daylight-saving
//! change, so its UTC instants move by an hour.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use rrule::{RRule, Unvalidated};

/// How far a rule may reach (from the service's settings).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecurrenceLimits {
    /// Most occurrences one rule may expand to.
    pub max_occurrences: u16,
    /// The last occurrence at most this many days after now.
    pub max_horizon_days: i64,
}

/// Why a rule is refused.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleError {
    /// It does not parse, or the rrule crate's validation refuses it.
    Invalid(String),
    /// Neither `COUNT` nor `UNTIL`: it would never end.
    NeverEnds,
    /// It expands to more than the maximum.
    TooMany(u16),
    /// Its last occurrence is beyond the horizon.
    TooFar(i64),
    /// `starts_at` is not its first occurrence (RFC 5545 counts DTSTART as the first instance:
    /// calendars would show one more than was scheduled).
    NotAnchored,
}

impl RuleError {
    pub fn message(&self) -> String {
        match self {
            Self::Invalid(e) => format!("is not an RFC 5545 recurrence rule: {e}"),
            Self::NeverEnds => "never ends: give COUNT or UNTIL".to_owned(),
            Self::TooMany(max) => format!("expands to more than {max} occurrences"),
            Self::TooFar(days) => format!("reaches more than {days} days ahead"),
            Self::NotAnchored => {
                "does not produce starts_at as its first occurrence (check BYDAY, BYMONTHDAY, BYHOUR against starts_at \
                 in time_zone)"
                    .to_owned()
            }
        }
    }
}

/// Parses `rule` (`FREQ=WEEKLY;BYDAY=MO;COUNT=14`, with or without `RRULE:`) into the text kept
/// and published: the rule as the rrule crate writes it.
pub fn normalize(rule: &str) -> Result<String, RuleError> {
    parse(rule).map(|r| r.to_string())
}

fn parse(rule: &str) -> Result<RRule<Unvalidated>, RuleError> {
    let rule = rule.trim();
    let body = rule.strip_prefix("RRULE:").unwrap_or(rule);
    if body.is_empty() || body.contains(['\r', '\n']) || body.contains(':') {
        return Err(RuleError::Invalid("one RRULE value is expected".to_owned()));
    }
    body.parse::<RRule<Unvalidated>>()
        .map_err(|e| RuleError::Invalid(e.to_string()))
}

/// The start of every occurrence of `rule` whose first is `first`, in `tz`, checked against
/// `limits` as of `now`.
pub fn expand(
    rule: &str,
    first: DateTime<Utc>,
    tz: Tz,
    now: DateTime<Utc>,
    limits: RecurrenceLimits,
) -> Result<Vec<DateTime<Utc>>, RuleError> {
    let parsed = parse(rule)?;
    if parsed.get_count().is_none() && parsed.get_until().is_none() {
        return Err(RuleError::NeverEnds);
    }
    let start = first.with_timezone(&rrule::Tz::Tz(tz));
    let set = parsed.build(start).map_err(|e| RuleError::Invalid(e.to_string()))?;
    let result = set.all(limits.max_occurrences.saturating_add(1));
    if result.dates.len() > usize::from(limits.max_occurrences) {
        return Err(RuleError::TooMany(limits.max_occurrences));
    }
    let starts: Vec<DateTime<Utc>> = result.dates.iter().map(|d| d.with_timezone(&Utc)).collect();
    if starts.first() != Some(&first) {
        return Err(RuleError::NotAnchored);
    }
    if starts
        .last()
        .is_some_and(|last| *last > now + Duration::days(limits.max_horizon_days))
    {
        return Err(RuleError::TooFar(limits.max_horizon_days));
    }
    Ok(starts)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: RecurrenceLimits = RecurrenceLimits {
        max_occurrences: 20,
        max_horizon_days: 400,
    };

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn a_weekly_rule_keeps_the_local_time_across_a_daylight_saving_change() {
        // Mondays 18:00 in New York; DST ends on Sunday 2030-11-03.
        let first = at("2030-10-21T18:00:00-04:00");
        let starts = expand(
            "RRULE:FREQ=WEEKLY;COUNT=4",
            first,
            chrono_tz::America::New_York,
            at("2030-10-01T00:00:00Z"),
            LIMITS,
        )
        .expect("expands");
        let utc: Vec<String> = starts.iter().map(|s| s.to_rfc3339()).collect();
        assert_eq!(
            utc,
            [
                "2030-10-21T22:00:00+00:00",
                "2030-10-28T22:00:00+00:00",
                "2030-11-04T23:00:00+00:00",
                "2030-11-11T23:00:00+00:00"
            ]
        );
    }

    #[test]
    fn endless_huge_far_unanchored_or_garbled_rules_are_refused() {
        let now = at("2030-01-01T00:00:00Z");
        let first = at("2030-01-07T10:00:00+08:00"); // a Monday
        let tz = chrono_tz::Asia::Shanghai;
        let err = |rule: &str| expand(rule, first, tz, now, LIMITS).expect_err(rule);
        assert_eq!(err("FREQ=WEEKLY"), RuleError::NeverEnds);
        assert_eq!(err("FREQ=DAILY;COUNT=21"), RuleError::TooMany(20));
        assert_eq!(err("FREQ=MONTHLY;COUNT=20"), RuleError::TooFar(400));
        assert_eq!(err("FREQ=WEEKLY;BYDAY=TU;COUNT=3"), RuleError::NotAnchored);
        assert!(matches!(err("FREQ=SOMETIMES;COUNT=2"), RuleError::Invalid(_)));
        assert!(matches!(
            err("FREQ=DAILY;COUNT=2\nRRULE:FREQ=DAILY"),
            RuleError::Invalid(_)
        ));
        assert_eq!(
            expand("FREQ=WEEKLY;UNTIL=20300121T020000Z", first, tz, now, LIMITS)
                .expect("until")
                .len(),
            3
        );
        assert_eq!(
            normalize("RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=14").expect("normal"),
            "FREQ=WEEKLY;COUNT=14;BYDAY=MO"
        );
    }
}
