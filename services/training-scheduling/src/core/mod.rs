//! Training-scheduling's use cases: the catalogue (courses, classes, trainings and their
//! sessions), sessions moved and cancelled, registrations with their waitlist, class
//! enrolments and transfers, calendar feeds. Time comes from the service's clock only.

pub mod calendars;
pub mod catalog;
pub mod enrolments;
pub mod registrations;
pub mod sessions;

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use platform::auth::{Principal, Role, StaffFunction};
use platform::{ApiError, Platform};

use crate::domain::offering::ScheduleLimits;
use crate::settings::SchedulingSettings;

/// What every use case needs. Cheap to clone.
#[derive(Clone)]
pub struct Scheduling {
    pub platform: Platform,
    pub limits: ScheduleLimits,
    /// Where calendar feed links point (no trailing slash).
    pub public_base_url: Arc<str>,
}

impl Scheduling {
    pub fn new(platform: Platform, settings: &SchedulingSettings) -> Self {
        Self {
            platform,
            limits: settings.limits(),
            public_base_url: settings.public_base_url.trim_end_matches('/').into(),
        }
    }

    /// Now by the service's clock, to the microsecond (as stored).
    pub fn now(&self) -> DateTime<Utc> {
        self.platform.clock.now().trunc_subsecs(6)
    }
}

/// A customer acting for themselves (no other role): sees customer trainings only.
pub fn is_customer_only(caller: &Principal) -> bool {
    caller.has(Role::Customer) && caller.roles.len() == 1
}

/// Callers who act on anyone's registrations and enrolments: the desk, class advisors, the
/// front desk and services.
pub fn acts_for_others(caller: &Principal) -> bool {
    caller.is_desk_or_service()
        || caller.has_function(StaffFunction::ClassAdvisor)
        || caller.has_function(StaffFunction::FrontDesk)
}

/// Maps a violated exclusion constraint to the 409 it means.
pub fn clash_conflict(constraint: &str) -> Option<ApiError> {
    match constraint {
        "session_trainer_overlap" => Some(ApiError::conflict(
            "trainer_double_booked",
            "the trainer already teaches a session at an overlapping time",
        )),
        "session_room_overlap" => Some(ApiError::conflict(
            "room_double_booked",
            "the room is already booked at an overlapping time",
        )),
        _ => None,
    }
}
