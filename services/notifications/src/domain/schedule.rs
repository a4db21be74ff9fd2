//! When a message may go out: quiet hours and the retry schedule.

use std::time::Duration;

use chrono::{DateTime, Days, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use rand::Rng;

/// A recipient's quiet hours in their own time zone; `start > end` spans midnight.
#[derive(Debug, Clone, Copy)]
pub struct QuietHours {
    pub tz: Tz,
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl QuietHours {
    /// `None` when `now` is outside quiet hours; otherwise the moment they end.
    pub fn release(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.start == self.end {
            return None;
        }
        let local = now.with_timezone(&self.tz);
        let t = local.time();
        let quiet = if self.start < self.end {
            t >= self.start && t < self.end
        } else {
            t >= self.start || t < self.end
        };
        if !quiet {
            return None;
        }
        let mut day = local.date_naive();
        if t >= self.end {
            day = day.checked_add_days(Days::new(1))?;
        }
        // The first valid local instant at or after the end (DST gaps move it forward).
        (0..180).find_map(|m| {
            let at = day.and_time(self.end) + chrono::Duration::minutes(m);
            self.tz
                .from_local_datetime(&at)
                .earliest()
                .map(|d| d.with_timezone(&Utc))
        })
    }
}

/// The waits between attempts of a failing send: one entry per retry, each varied by
/// ±`jitter` (0.2 = ±20%).
#[derive(Debug, Clone, PartialEq)]
pub struct RetrySchedule {
    pub waits_secs: Vec<u64>,
    pub jitter: f64,
}

impl RetrySchedule {
    /// The wait before the next attempt after `attempt` (1-based) failed; `None` when the
    /// schedule is exhausted.
    pub fn delay(&self, attempt: u32) -> Option<Duration> {
        let base = *self.waits_secs.get(usize::try_from(attempt).ok()?.checked_sub(1)?)? as f64;
        let factor = if self.jitter > 0.0 {
            rand::rng().random_range(1.0 - self.jitter..=1.0 + self.jitter)
        } else {
            1.0
        };
        Some(Duration::from_secs_f64((base * factor).max(0.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shanghai(start: &str, end: &str) -> QuietHours {
        QuietHours {
            tz: chrono_tz::Asia::Shanghai,
            start: NaiveTime::parse_from_str(start, "%H:%M").expect("time"),
            end: NaiveTime::parse_from_str(end, "%H:%M").expect("time"),
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
    }

    #[test]
    fn quiet_hours_over_midnight_hold_until_the_morning() {
        let q = shanghai("22:00", "08:00");
        // 23:30 in Shanghai → 08:00 next day local = 00:00 UTC.
        assert_eq!(
            q.release(utc("2026-11-20T15:30:00Z")),
            Some(utc("2026-11-21T00:00:00Z"))
        );
        // 06:00 local → 08:00 the same day.
        assert_eq!(
            q.release(utc("2026-11-20T22:00:00Z")),
            Some(utc("2026-11-21T00:00:00Z"))
        );
        // 12:00 local: not quiet.
        assert_eq!(q.release(utc("2026-11-20T04:00:00Z")), None);
    }

    #[test]
    fn quiet_hours_within_a_day() {
        let q = shanghai("12:00", "14:00");
        assert_eq!(
            q.release(utc("2026-11-20T04:30:00Z")),
            Some(utc("2026-11-20T06:00:00Z"))
        );
        assert_eq!(q.release(utc("2026-11-20T06:00:00Z")), None);
    }

    #[test]
    fn retries_follow_the_schedule_with_bounded_jitter() {
        let schedule = |jitter| RetrySchedule {
            waits_secs: vec![10, 60, 300],
            jitter,
        };
        for _ in 0..100 {
            let d = schedule(0.2).delay(2).expect("delay").as_secs_f64();
            assert!((48.0..=72.0).contains(&d), "{d}");
        }
        assert_eq!(schedule(0.0).delay(1), Some(Duration::from_secs(10)));
        assert_eq!(schedule(0.2).delay(4), None);
        assert_eq!(schedule(0.2).delay(0), None);
    }
}
