//! Registrations: their states, who may hold a seat in which kind of session, and the reasons
//! and guardians that come with them.

use platform::error::Validator;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::offering::{CUSTOMER_TRAINING, STAFF_TRAINING};

/// Where a registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Status {
    /// Holds a seat.
    Confirmed,
    /// Waits for a seat, in the order of `waitlist_position`.
    Waitlisted,
    /// Gave up the seat or the place (terminal).
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Waitlisted => "waitlisted",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Who a training's seats are for: customers or staff; a class's sessions are not registered
/// for (its students follow them through their enrolment).
pub fn participant_kind(offering_kind: &str) -> Option<&'static str> {
    match offering_kind {
        CUSTOMER_TRAINING => Some("customer"),
        STAFF_TRAINING => Some("staff"),
        _ => None,
    }
}

/// Most guardians one participant may have.
pub const MAX_GUARDIANS: usize = 10;

/// Checks guardians: a few distinct customers other than the participant.
pub fn check_guardians(v: &mut Validator, participant: Uuid, guardians: &[Uuid], field: &str) {
    v.check(
        guardians.len() <= MAX_GUARDIANS,
        field,
        format!("at most {MAX_GUARDIANS} guardians"),
    );
    let mut sorted = guardians.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    v.check(sorted.len() == guardians.len(), field, "lists a guardian twice");
    v.check(
        !guardians.contains(&participant),
        field,
        "the participant is not their own guardian",
    );
}

/// Checks a reason for a cancellation or a move: required, at most 500 characters.
pub fn check_reason(v: &mut Validator, reason: &str) {
    v.text(reason, "reason", 500);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seats_are_for_the_trainings_audience_and_guardians_are_others() {
        assert_eq!(participant_kind(CUSTOMER_TRAINING), Some("customer"));
        assert_eq!(participant_kind(STAFF_TRAINING), Some("staff"));
        assert_eq!(participant_kind("class"), None);
        let me = Uuid::new_v4();
        let parent = Uuid::new_v4();
        let mut v = Validator::new();
        check_guardians(&mut v, me, &[parent], "guardian_ids");
        assert!(v.finish().is_ok());
        let mut v = Validator::new();
        check_guardians(&mut v, me, &[parent, parent, me], "guardian_ids");
        assert_eq!(v.finish().expect_err("bad").errors.len(), 2);
    }
}
