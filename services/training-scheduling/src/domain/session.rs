//! Sessions: what a valid one is.

use chrono::{DateTime, Utc};
use platform::ApiError;
use platform::error::Validator;

/// How long and how large a session may be (from the service's settings).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionLimits {
    pub max_session_minutes: i64,
    pub max_capacity: i32,
}

pub const KINDS: [&str; 3] = ["customer_training", "staff_training", "class"];
pub const MODES: [&str; 2] = ["online", "on_site"];

/// A session as requested.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub kind: &'a str,
    pub title: &'a str,
    pub mode: &'a str,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub time_zone: &'a str,
    pub capacity: i32,
}

/// Checks a session; `now` is when it is being scheduled.
pub fn validate(s: &NewSession<'_>, now: DateTime<Utc>, settings: &SessionLimits) -> Result<(), ApiError> {
    let mut v = Validator::new();
    v.check(
        KINDS.contains(&s.kind),
        "kind",
        format!("must be one of {}", KINDS.join(", ")),
    );
    v.text(s.title, "title", 200);
    v.check(MODES.contains(&s.mode), "mode", "must be online or on_site");
    v.check(s.starts_at > now, "starts_at", "must be in the future");
    let minutes = (s.ends_at - s.starts_at).num_minutes();
    v.check(s.ends_at > s.starts_at, "ends_at", "must be after starts_at");
    v.check(
        minutes <= settings.max_session_minutes,
        "ends_at",
        format!("a session lasts at most {} minutes", settings.max_session_minutes),
    );
    v.time_zone(s.time_zone, "time_zone");
    v.check(
        (1..=settings.max_capacity).contains(&s.capacity),
        "capacity",
        format!("must be 1 to {}", settings.max_capacity),
    );
    v.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SessionLimits {
        SessionLimits {
            max_session_minutes: 120,
            max_capacity: 100,
        }
    }

    fn session<'a>(now: DateTime<Utc>) -> NewSession<'a> {
        NewSession {
            kind: "customer_training",
            title: "如何使用直播教室",
            mode: "online",
            starts_at: now + chrono::Duration::days(1),
            ends_at: now + chrono::Duration::days(1) + chrono::Duration::minutes(60),
            time_zone: "Asia/Shanghai",
            capacity: 80,
        }
    }

    #[test]
    fn a_sensible_session_is_valid() {
        let now = Utc::now();
        assert!(validate(&session(now), now, &settings()).is_ok());
    }

    #[test]
    fn past_inverted_overlong_or_unzoned_sessions_are_refused() {
        let now = Utc::now();
        let past = NewSession {
            starts_at: now - chrono::Duration::hours(1),
            ..session(now)
        };
        assert_eq!(
            validate(&past, now, &settings()).expect_err("past").errors[0].field,
            "starts_at"
        );
        let s = session(now);
        let inverted = NewSession {
            ends_at: s.starts_at - chrono::Duration::minutes(1),
            ..s.clone()
        };
        assert!(validate(&inverted, now, &settings()).is_err());
        let long = NewSession {
            ends_at: s.starts_at + chrono::Duration::minutes(121),
            ..s.clone()
        };
        assert!(validate(&long, now, &settings()).is_err());
        let zone = NewSession {
            time_zone: "Mars/Olympus",
            capacity: 0,
            ..s
        };
        assert_eq!(validate(&zone, now, &settings()).expect_err("zone").errors.len(), 2);
    }
}
