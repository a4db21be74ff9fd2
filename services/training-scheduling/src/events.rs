//! What training-scheduling publishes (contracts in `contracts::training`), built from stored
//! rows; times come from the service's clock.
//!
//! | type | when | to whom (in the payload) |
//! |---|---|---|
//! | `training.registration.confirmed` | a seat taken at registration | participant, guardians |
//! | `training.registration.waitlisted` | registered into a full session (with the position) | participant, guardians |
//! | `training.registration.promoted` | a seat freed and went to the lowest waitlist position | participant, guardians |
//! | `training.registration.cancelled` | a seat or waitlist place given up (reason, actor) | participant, guardians |
//! | `training.session.rescheduled` | a session moved (reason, actor, previous times) | `attendees` |
//! | `training.session.cancelled` | a session cancelled (reason, actor) | `attendees` |
//! | `training.enrolment.transferred` | a student moved to another class (调班) | student, guardians |
//!
//! Registration events are staged with the registration's version (`subjectseq`).

use chrono::{DateTime, Utc};
use contracts::CustomerId;
use contracts::training::{
    AttendeeV1, ClassRefV1, EnrolmentTransferredV1, RegistrationCancelledV1, RegistrationConfirmedV1,
    RegistrationPromotedV1, RegistrationV1, RegistrationWaitlistedV1, SessionCancelledV1, SessionRescheduledV1,
    SessionSummaryV1,
};
use uuid::Uuid;

use crate::store::enrolments::EnrolmentRow;
use crate::store::offerings::OfferingRow;
use crate::store::registrations::RegistrationRow;
use crate::store::sessions::SessionRow;

fn customers(ids: &[Uuid]) -> Vec<CustomerId> {
    ids.iter().copied().map(CustomerId).collect()
}

pub fn session_summary(s: &SessionRow) -> SessionSummaryV1 {
    SessionSummaryV1 {
        session_id: s.id,
        offering_id: s.offering_id,
        kind: s.kind.clone(),
        title: s.title.clone(),
        starts_at: s.starts_at,
        ends_at: s.ends_at,
        time_zone: s.time_zone.clone(),
        mode: s.mode.clone(),
        location: s.location(),
        trainer_id: s.trainer_id,
    }
}

/// Who took a step (none: the service itself), why, and when.
#[derive(Debug, Clone, Copy)]
pub struct Stamp<'a> {
    pub actor: Option<Uuid>,
    pub reason: Option<&'a str>,
    pub at: DateTime<Utc>,
}

fn registration(r: &RegistrationRow, s: &SessionRow, stamp: Stamp<'_>) -> RegistrationV1 {
    RegistrationV1 {
        registration_id: r.id,
        session: session_summary(s),
        participant_id: r.participant_id,
        participant_kind: r.participant_kind.clone(),
        guardian_ids: customers(&r.guardian_ids),
        status: r.status.as_str().to_owned(),
        waitlist_position: r.waitlist_position,
        actor_id: stamp.actor,
        reason: stamp.reason.map(str::to_owned),
        at: stamp.at,
    }
}

pub fn confirmed(r: &RegistrationRow, s: &SessionRow, stamp: Stamp<'_>) -> RegistrationConfirmedV1 {
    RegistrationConfirmedV1(registration(r, s, stamp))
}

pub fn waitlisted(r: &RegistrationRow, s: &SessionRow, stamp: Stamp<'_>) -> RegistrationWaitlistedV1 {
    RegistrationWaitlistedV1(registration(r, s, stamp))
}

pub fn promoted(r: &RegistrationRow, s: &SessionRow, at: DateTime<Utc>) -> RegistrationPromotedV1 {
    RegistrationPromotedV1(registration(
        r,
        s,
        Stamp {
            actor: None,
            reason: None,
            at,
        },
    ))
}

pub fn cancelled(r: &RegistrationRow, s: &SessionRow, stamp: Stamp<'_>) -> RegistrationCancelledV1 {
    RegistrationCancelledV1(registration(r, s, stamp))
}

fn attendees(list: Vec<(Uuid, Vec<Uuid>)>) -> Vec<AttendeeV1> {
    list.into_iter()
        .map(|(participant_id, guardians)| AttendeeV1 {
            participant_id,
            guardian_ids: customers(&guardians),
        })
        .collect()
}

/// A session moved from `before` to `after`.
pub fn rescheduled(
    before: &SessionRow,
    after: &SessionRow,
    who: Vec<(Uuid, Vec<Uuid>)>,
    actor: Uuid,
    reason: &str,
    at: DateTime<Utc>,
) -> SessionRescheduledV1 {
    SessionRescheduledV1 {
        session: session_summary(after),
        previous_starts_at: before.starts_at,
        previous_ends_at: before.ends_at,
        reason: reason.to_owned(),
        actor_id: actor,
        attendees: attendees(who),
        sequence: after.sequence,
        at,
    }
}

pub fn session_cancelled(
    s: &SessionRow,
    who: Vec<(Uuid, Vec<Uuid>)>,
    actor: Uuid,
    reason: &str,
    at: DateTime<Utc>,
) -> SessionCancelledV1 {
    SessionCancelledV1 {
        session: session_summary(s),
        reason: reason.to_owned(),
        actor_id: actor,
        attendees: attendees(who),
        sequence: s.sequence,
        at,
    }
}

fn class_ref(o: &OfferingRow) -> ClassRefV1 {
    ClassRefV1 {
        class_id: o.id,
        code: o.code.clone().unwrap_or_default(),
        title: o.title.clone(),
    }
}

/// A student moved from `from` (if they were enrolled here) to `to`.
pub fn transferred(
    e: &EnrolmentRow,
    from: Option<&OfferingRow>,
    to: &OfferingRow,
    next: Option<&SessionRow>,
    request_id: Option<Uuid>,
    at: DateTime<Utc>,
) -> EnrolmentTransferredV1 {
    EnrolmentTransferredV1 {
        enrolment_id: e.id,
        customer_id: CustomerId(e.customer_id),
        guardian_ids: customers(&e.guardian_ids),
        from_class: from.map(class_ref),
        to_class: class_ref(to),
        next_session: next.map(session_summary),
        request_id,
        at,
    }
}
