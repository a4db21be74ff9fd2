//! [`Clock`]: the one source of "now" for every rule that depends on time (durable jobs, SLA
//! clocks, offers, presence, cooling-off windows, reminders). In production it reads the
//! system clock. In tests and in simulation mode (`clock.mode = "manual"`) it stands still
//! until it is set or advanced, so a seven-day window or a monthly close is tested by moving
//! the clock, not by waiting. SQL that applies a rule takes the time as a parameter from here
//! instead of calling `now()`.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// How a service's clock runs (`[clock]` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClockMode {
    /// The system clock.
    #[default]
    System,
    /// Stands still until set or advanced (tests, simulations).
    Manual,
}

/// The clock. Cheap to clone; clones share one time.
#[derive(Clone)]
pub struct Clock {
    manual: Option<Arc<RwLock<DateTime<Utc>>>>,
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clock")
            .field("mode", &self.mode())
            .field("now", &self.now())
            .finish()
    }
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self { manual: None }
    }

    /// A clock that shows `start` until it is set or advanced.
    pub fn manual(start: DateTime<Utc>) -> Self {
        Self {
            manual: Some(Arc::new(RwLock::new(start))),
        }
    }

    pub fn mode(&self) -> ClockMode {
        if self.manual.is_some() {
            ClockMode::Manual
        } else {
            ClockMode::System
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.manual {
            None => Utc::now(),
            Some(t) => t.read().map(|t| *t).unwrap_or_else(|p| *p.into_inner()),
        }
    }

    /// Moves a manual clock forward by `by` (never backwards); the new time. Fails on the
    /// system clock.
    pub fn advance(&self, by: Duration) -> Result<DateTime<Utc>, ClockError> {
        if by < Duration::zero() {
            return Err(ClockError::Backwards);
        }
        let manual = self.manual.as_ref().ok_or(ClockError::System)?;
        let mut t = manual.write().unwrap_or_else(|p| p.into_inner());
        *t += by;
        Ok(*t)
    }

    /// Sets a manual clock to `to`, which must not be earlier than now. Fails on the system
    /// clock.
    pub fn set(&self, to: DateTime<Utc>) -> Result<DateTime<Utc>, ClockError> {
        let manual = self.manual.as_ref().ok_or(ClockError::System)?;
        let mut t = manual.write().unwrap_or_else(|p| p.into_inner());
        if to < *t {
            return Err(ClockError::Backwards);
        }
        *t = to;
        Ok(to)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClockError {
    #[error("the clock is the system clock; only a manual clock is set or advanced")]
    System,
    #[error("time does not go backwards")]
    Backwards,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_stands_still_until_moved_and_clones_share_it() {
        let start = Utc::now() - Duration::days(30);
        let clock = Clock::manual(start);
        let other = clock.clone();
        assert_eq!(clock.now(), start);
        assert_eq!(
            other.advance(Duration::days(7)).expect("advance"),
            start + Duration::days(7)
        );
        assert_eq!(clock.now(), start + Duration::days(7));
        assert_eq!(clock.advance(Duration::seconds(-1)), Err(ClockError::Backwards));
        assert_eq!(clock.set(start), Err(ClockError::Backwards));
        assert_eq!(clock.mode(), ClockMode::Manual);
    }

    #[test]
    fn the_system_clock_follows_the_system_and_cannot_be_moved() {
        let clock = Clock::system();
        let before = Utc::now();
        assert!(clock.now() >= before);
        assert_eq!(clock.advance(Duration::seconds(1)), Err(ClockError::System));
    }
}
