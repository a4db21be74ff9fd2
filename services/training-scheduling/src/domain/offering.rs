//! Classes and trainings: what a valid one is, and the sessions its schedule expands to.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use platform::ApiError;
use platform::error::Validator;
use uuid::Uuid;

use super::recurrence::{self, RecurrenceLimits};

/// How long, large and far a schedule may be (from the service's settings).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScheduleLimits {
    pub max_session_minutes: i64,
    pub max_capacity: i32,
    pub recurrence: RecurrenceLimits,
}

pub const CLASS: &str = "class";
pub const CUSTOMER_TRAINING: &str = "customer_training";
pub const STAFF_TRAINING: &str = "staff_training";
pub const TRAINING_KINDS: [&str; 2] = [CUSTOMER_TRAINING, STAFF_TRAINING];
pub const MODES: [&str; 2] = ["online", "on_site"];
/// Who a customer training is for.
pub const CUSTOMER_AUDIENCES: [&str; 4] = ["students", "parents", "teachers", "institutions"];

/// A class or training as requested; times are RFC 3339 text, checked here so that a time
/// without a zone offset is a field error rather than an unreadable body.
#[derive(Debug, Clone)]
pub struct NewOffering<'a> {
    pub kind: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub audience: &'a [String],
    pub mode: &'a str,
    pub meeting_url: Option<&'a str>,
    pub room: Option<&'a str>,
    pub trainer_id: Option<Uuid>,
    pub capacity: i32,
    pub min_attendance: i32,
    pub time_zone: &'a str,
    pub starts_at: &'a str,
    pub ends_at: &'a str,
    pub recurrence: Option<&'a str>,
}

/// A checked offering with its expanded schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub tz: Tz,
    /// The normalized rule, when the offering recurs.
    pub rrule: Option<String>,
    pub duration: Duration,
    /// Every occurrence's start, the first being `starts_at`.
    pub starts: Vec<DateTime<Utc>>,
    pub room: Option<String>,
    pub meeting_url: Option<String>,
}

impl Schedule {
    pub fn first(&self) -> DateTime<Utc> {
        self.starts[0]
    }

    pub fn duration_minutes(&self) -> i32 {
        i32::try_from(self.duration.num_minutes()).unwrap_or(i32::MAX)
    }
}

/// Reads an RFC 3339 time that carries its zone offset (`2030-03-04T18:00:00+08:00`, `…Z`).
pub fn instant(v: &mut Validator, value: &str, field: &str) -> Option<DateTime<Utc>> {
    match DateTime::parse_from_rfc3339(value.trim()) {
        Ok(t) => Some(t.with_timezone(&Utc)),
        Err(_) => {
            v.check(
                false,
                field,
                "must be an RFC 3339 time with its zone offset, such as 2030-03-04T18:00:00+08:00 or …T10:00:00Z",
            );
            None
        }
    }
}

/// Checks a meeting link: an http(s) URL without spaces.
fn is_url(s: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://")) && s.len() > 8 && !s.contains(char::is_whitespace)
}

fn blank_to_none(s: Option<&str>) -> Option<String> {
    s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// Checks `o` as of `now`; every invalid field is named at once.
pub fn validate(o: &NewOffering<'_>, now: DateTime<Utc>, limits: &ScheduleLimits) -> Result<Schedule, ApiError> {
    let mut v = Validator::new();
    v.text(o.title, "title", 200);
    v.check(
        o.description.chars().count() <= 4000,
        "description",
        "must be at most 4000 characters",
    );
    if o.kind == CUSTOMER_TRAINING {
        for (i, a) in o.audience.iter().enumerate() {
            v.one_of(a, &CUSTOMER_AUDIENCES, &format!("audience[{i}]"));
        }
    } else if o.kind == STAFF_TRAINING {
        v.check(
            o.audience.iter().all(|a| a == "staff"),
            "audience",
            "a staff training is for `staff`",
        );
    }
    v.one_of(o.mode, &MODES, "mode");
    let meeting_url = blank_to_none(o.meeting_url);
    let room = blank_to_none(o.room);
    if o.mode == "online" {
        v.check(
            meeting_url.as_deref().is_some_and(is_url),
            "meeting_url",
            "an online session needs its meeting link (https://…)",
        );
        v.check(room.is_none(), "room", "an online session has no room");
    } else if o.mode == "on_site" {
        v.check(
            room.as_ref().is_some_and(|r| r.chars().count() <= 100),
            "room",
            "an on-site session needs its room (at most 100 characters)",
        );
        v.check(
            meeting_url.as_deref().is_none_or(is_url),
            "meeting_url",
            "must be an https:// link",
        );
    }
    v.check(
        (1..=limits.max_capacity).contains(&o.capacity),
        "capacity",
        format!("must be 1 to {}", limits.max_capacity),
    );
    v.check(
        (0..=o.capacity.max(0)).contains(&o.min_attendance),
        "min_attendance",
        "must be 0 to capacity",
    );
    let tz = o.time_zone.parse::<Tz>().ok();
    v.check(
        tz.is_some(),
        "time_zone",
        "must be an IANA time zone such as Asia/Shanghai",
    );
    let starts_at = instant(&mut v, o.starts_at, "starts_at");
    let ends_at = instant(&mut v, o.ends_at, "ends_at");
    if let Some(s) = starts_at {
        v.check(s > now, "starts_at", "must be in the future");
    }
    if let (Some(s), Some(e)) = (starts_at, ends_at) {
        v.check(e > s, "ends_at", "must be after starts_at");
        v.check(
            (e - s).num_minutes() <= limits.max_session_minutes,
            "ends_at",
            format!("a session lasts at most {} minutes", limits.max_session_minutes),
        );
    }
    let rrule = match o.recurrence.map(str::trim).filter(|r| !r.is_empty()) {
        None => None,
        Some(rule) => match recurrence::normalize(rule) {
            Ok(r) => Some(r),
            Err(e) => {
                v.check(false, "recurrence", e.message());
                None
            }
        },
    };
    v.finish()?;
    let (Some(tz), Some(first), Some(end)) = (tz, starts_at, ends_at) else {
        return Err(ApiError::field("starts_at", "is required"));
    };
    let starts = match &rrule {
        None => vec![first],
        Some(rule) => recurrence::expand(rule, first, tz, now, limits.recurrence)
            .map_err(|e| ApiError::field("recurrence", e.message()))?,
    };
    Ok(Schedule {
        tz,
        rrule,
        duration: end - first,
        starts,
        room,
        meeting_url,
    })
}

/// A class's key as the company's systems write it: `math-101-a`.
pub fn validate_code(v: &mut Validator, code: &str, field: &str) {
    v.check(
        !code.is_empty()
            && code.len() <= 64
            && code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')),
        field,
        "must be 1 to 64 letters, digits, `-`, `_` or `.`",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ScheduleLimits {
        ScheduleLimits {
            max_session_minutes: 240,
            max_capacity: 500,
            recurrence: RecurrenceLimits {
                max_occurrences: 50,
                max_horizon_days: 730,
            },
        }
    }

    fn training<'a>(audience: &'a [String]) -> NewOffering<'a> {
        NewOffering {
            kind: CUSTOMER_TRAINING,
            title: "平台使用培训",
            description: "",
            audience,
            mode: "online",
            meeting_url: Some("https://meet.example.com/abc"),
            room: None,
            trainer_id: None,
            capacity: 60,
            min_attendance: 10,
            time_zone: "Asia/Shanghai",
            starts_at: "2030-03-04T19:00:00+08:00",
            ends_at: "2030-03-04T20:30:00+08:00",
            recurrence: Some("FREQ=WEEKLY;COUNT=3"),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn a_weekly_training_expands_to_its_sessions() {
        let audience = vec!["parents".to_owned()];
        let s = validate(&training(&audience), now(), &limits()).expect("valid");
        assert_eq!(s.starts.len(), 3);
        assert_eq!(s.duration_minutes(), 90);
        assert_eq!(s.rrule.as_deref(), Some("FREQ=WEEKLY;COUNT=3"));
    }

    #[test]
    fn times_without_a_zone_and_other_bad_fields_are_named() {
        let audience = vec!["aliens".to_owned()];
        let bad = NewOffering {
            starts_at: "2030-03-04T19:00:00",
            mode: "online",
            meeting_url: None,
            capacity: 0,
            time_zone: "Mars/Base",
            ..training(&audience)
        };
        let err = validate(&bad, now(), &limits()).expect_err("invalid");
        let fields: Vec<&str> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "audience[0]",
                "meeting_url",
                "capacity",
                "min_attendance",
                "time_zone",
                "starts_at"
            ]
        );
        let inverted = NewOffering {
            ends_at: "2030-03-04T18:00:00+08:00",
            ..training(&[])
        };
        assert_eq!(
            validate(&inverted, now(), &limits()).expect_err("inverted").errors[0].field,
            "ends_at"
        );
        let endless = NewOffering {
            recurrence: Some("FREQ=DAILY"),
            ..training(&[])
        };
        assert_eq!(
            validate(&endless, now(), &limits()).expect_err("endless").errors[0].field,
            "recurrence"
        );
    }
}
