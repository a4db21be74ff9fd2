//! Events published by the training-scheduling service: registrations for training sessions
//! (confirmed, waitlisted, promoted from the waitlist, cancelled), sessions moved or cancelled,
//! and students moved to another class.
//!
//! Every event names who should hear of it: the participant and their guardians (parents,
//! customer ids), so notifications reaches a student's family without asking this service.
//! Registration events are numbered per registration (`subjectseq`, the registration's version
//! after the step).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Event;
use crate::ids::CustomerId;

/// A session as events describe it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionSummaryV1 {
    pub session_id: Uuid,
    /// The class or training the session belongs to.
    pub offering_id: Uuid,
    /// `class`, `customer_training` or `staff_training`.
    pub kind: String,
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// IANA time zone the session is held in, for local times in messages.
    pub time_zone: String,
    /// `online` or `on_site`.
    pub mode: String,
    /// The meeting link (online) or the room (on site).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trainer_id: Option<Uuid>,
}

/// A registration after one of its steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistrationV1 {
    pub registration_id: Uuid,
    pub session: SessionSummaryV1,
    pub participant_id: Uuid,
    /// `customer` or `staff`.
    pub participant_kind: String,
    /// The participant's guardians (parents).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guardian_ids: Vec<CustomerId>,
    /// `confirmed`, `waitlisted` or `cancelled` after the step.
    pub status: String,
    /// The place in the waitlist's order (1, 2, 3… as admitted), for waitlisted and promoted
    /// registrations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waitlist_position: Option<i32>,
    /// Who took the step; none when the service did (a promotion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<Uuid>,
    /// Why (a cancellation's reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

macro_rules! registration_event {
    ($ty:ident, $name:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub struct $ty(pub RegistrationV1);

        impl Event for $ty {
            const TYPE: &'static str = $name;
            const VERSION: u32 = 1;

            fn subject(&self) -> Option<String> {
                Some(self.0.registration_id.to_string())
            }
        }
    };
}

registration_event!(
    RegistrationConfirmedV1,
    "training.registration.confirmed",
    "`training.registration.confirmed` v1: the participant holds a seat in the session."
);
registration_event!(
    RegistrationWaitlistedV1,
    "training.registration.waitlisted",
    "`training.registration.waitlisted` v1: the session was full; the participant waits at `waitlist_position`."
);
registration_event!(
    RegistrationPromotedV1,
    "training.registration.promoted",
    "`training.registration.promoted` v1: a seat freed and went to this waitlisted participant (lowest position first)."
);
registration_event!(
    RegistrationCancelledV1,
    "training.registration.cancelled",
    "`training.registration.cancelled` v1: the participant's seat or waitlist place was given up, with the reason and who did it."
);

/// Someone who should hear about a change to a session: a participant (a registrant, or a
/// student of the class) and their guardians.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttendeeV1 {
    pub participant_id: Uuid,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guardian_ids: Vec<CustomerId>,
}

/// `training.session.rescheduled` v1: a session moved to another time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRescheduledV1 {
    /// The session at its new time.
    pub session: SessionSummaryV1,
    pub previous_starts_at: DateTime<Utc>,
    pub previous_ends_at: DateTime<Utc>,
    pub reason: String,
    pub actor_id: Uuid,
    /// Confirmed registrants (or the class's students) and their guardians.
    pub attendees: Vec<AttendeeV1>,
    /// The session's revision (the iCalendar SEQUENCE).
    pub sequence: i32,
    pub at: DateTime<Utc>,
}

impl Event for SessionRescheduledV1 {
    const TYPE: &'static str = "training.session.rescheduled";
    const VERSION: u32 = 1;

    fn subject(&self) -> Option<String> {
        Some(self.session.session_id.to_string())
    }
}

/// `training.session.cancelled` v1: a session will not take place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionCancelledV1 {
    pub session: SessionSummaryV1,
    pub reason: String,
    pub actor_id: Uuid,
    /// Registrants (confirmed and waitlisted) or the class's students, and their guardians.
    pub attendees: Vec<AttendeeV1>,
    pub sequence: i32,
    pub at: DateTime<Utc>,
}

impl Event for SessionCancelledV1 {
    const TYPE: &'static str = "training.session.cancelled";
    const VERSION: u32 = 1;

    fn subject(&self) -> Option<String> {
        Some(self.session.session_id.to_string())
    }
}

/// A class as the transfer event names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassRefV1 {
    pub class_id: Uuid,
    /// The company's key for the class (`math-101-a`).
    pub code: String,
    pub title: String,
}

/// `training.enrolment.transferred` v1: a student moved to another class (调班): they now follow
/// its sessions and hold a seat there instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrolmentTransferredV1 {
    pub enrolment_id: Uuid,
    pub customer_id: CustomerId,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guardian_ids: Vec<CustomerId>,
    /// Absent when the student was not enrolled here before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_class: Option<ClassRefV1>,
    pub to_class: ClassRefV1,
    /// The new class's next session, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_session: Option<SessionSummaryV1>,
    /// The refund (after-sales) request that decided it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<Uuid>,
    pub at: DateTime<Utc>,
}

impl Event for EnrolmentTransferredV1 {
    const TYPE: &'static str = "training.enrolment.transferred";
    const VERSION: u32 = 1;

    fn subject(&self) -> Option<String> {
        Some(self.enrolment_id.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registration_event_is_the_registration_on_the_wire() {
        let r = RegistrationV1 {
            registration_id: Uuid::nil(),
            session: SessionSummaryV1 {
                session_id: Uuid::nil(),
                offering_id: Uuid::nil(),
                kind: "customer_training".into(),
                title: "平台使用培训".into(),
                starts_at: DateTime::UNIX_EPOCH,
                ends_at: DateTime::UNIX_EPOCH,
                time_zone: "Asia/Shanghai".into(),
                mode: "online".into(),
                location: None,
                trainer_id: None,
            },
            participant_id: Uuid::nil(),
            participant_kind: "customer".into(),
            guardian_ids: vec![],
            status: "waitlisted".into(),
            waitlist_position: Some(3),
            actor_id: None,
            reason: None,
            at: DateTime::UNIX_EPOCH,
        };
        let json = serde_json::to_value(RegistrationWaitlistedV1(r.clone())).expect("json");
        assert_eq!(json["waitlist_position"], 3);
        assert!(json.get("guardian_ids").is_none());
        let back: RegistrationWaitlistedV1 = serde_json::from_value(json).expect("back");
        assert_eq!(back.0, r);
        assert_eq!(RegistrationPromotedV1::TYPE, "training.registration.promoted");
    }
}
