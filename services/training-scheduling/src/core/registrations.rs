//! Registrations for training sessions: a seat while there is one, else the next waitlist
//! position; a cancelled seat goes to the lowest waiting position at once; moving to another
//! session of the same training is a cancellation and a registration in one transaction.
//!
//! Usable outside HTTP (the bench): [`Scheduling::register`] needs only a transaction.

use chrono::{DateTime, Utc};
use platform::auth::{Principal, Role};
use platform::error::Validator;
use platform::{ApiError, Tx};
use uuid::Uuid;

use super::{Scheduling, acts_for_others};
use crate::domain::registration::{self, Status, check_guardians, check_reason};
use crate::events::{self, Stamp};
use crate::store::enrolments as enrolments_store;
use crate::store::registrations::{self as store, Admission, Cancellation, Filter, RegistrationRow};
use crate::store::sessions::{self as sessions_store, SessionRow};

/// A registration as requested: for the caller, or (the desk, class advisors, the front desk,
/// services; a parent listing themselves as guardian) for someone else.
#[derive(Debug, Clone, Copy)]
pub struct NewRegistration<'a> {
    pub participant_id: Option<Uuid>,
    pub guardian_ids: &'a [Uuid],
}

/// What a registration step produced: the registration, its session, and the registrations
/// promoted from the waitlist by the seat it freed.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub registration: RegistrationRow,
    pub session: SessionRow,
    pub promoted: Vec<RegistrationRow>,
}

fn participant_of(caller: &Principal, new: &NewRegistration<'_>) -> Result<Uuid, ApiError> {
    let participant = new.participant_id.unwrap_or(caller.subject);
    let own = participant == caller.subject;
    let as_guardian = caller.has(Role::Customer) && new.guardian_ids.contains(&caller.subject);
    if own || as_guardian || acts_for_others(caller) {
        Ok(participant)
    } else {
        Err(ApiError::forbidden(
            "you register yourself, or your child with yourself among guardian_ids",
        ))
    }
}

/// The registration if the caller may see it: the participant's, a guardian's, or anyone's for
/// callers acting for others; another's is 404.
fn visible(caller: &Principal, r: Option<RegistrationRow>) -> Result<RegistrationRow, ApiError> {
    r.filter(|r| acts_for_others(caller) || r.concerns(caller.subject))
        .ok_or_else(|| ApiError::not_found("registration"))
}

fn closed(s: &SessionRow, now: DateTime<Utc>) -> Option<ApiError> {
    if s.is_cancelled() {
        Some(ApiError::conflict("session_cancelled", "the session is cancelled"))
    } else if s.starts_at <= now {
        Some(ApiError::conflict(
            "session_started",
            "the session has started or taken place",
        ))
    } else {
        None
    }
}

impl Scheduling {
    /// Checks a registration's fields.
    pub fn check_registration(&self, caller: &Principal, new: &NewRegistration<'_>) -> Result<(), ApiError> {
        let participant = participant_of(caller, new)?;
        let mut v = Validator::new();
        check_guardians(&mut v, participant, new.guardian_ids, "guardian_ids");
        v.finish()
    }

    /// Registers for a session in `tx`: a seat, or the next waitlist position.
    pub async fn register(
        &self,
        tx: &mut Tx,
        caller: &Principal,
        session_id: Uuid,
        new: &NewRegistration<'_>,
    ) -> Result<Outcome, ApiError> {
        let participant = participant_of(caller, new)?;
        self.admit(tx, caller, session_id, participant, new.guardian_ids).await
    }

    /// Admits `participant` (whom the caller may register) to a session.
    async fn admit(
        &self,
        tx: &mut Tx,
        caller: &Principal,
        session_id: Uuid,
        participant: Uuid,
        guardian_ids: &[Uuid],
    ) -> Result<Outcome, ApiError> {
        let now = self.now();
        let session = sessions_store::session(&mut **tx, session_id)
            .await?
            .ok_or_else(|| ApiError::not_found("session"))?;
        let Some(kind) = registration::participant_kind(&session.kind) else {
            return Err(
                if enrolments_store::is_enrolled(tx, session.offering_id, participant).await? {
                    ApiError::conflict(
                        "already_enrolled",
                        "the student holds a seat in this class through their enrolment",
                    )
                } else {
                    ApiError::unprocessable(
                        "not_enrolled",
                        "the student is not enrolled in this class: students follow a class's sessions through their \
                         enrolment (PUT /v1/enrolments/{enrolment_id})",
                    )
                },
            );
        };
        if participant == caller.subject && !acts_for_others(caller) {
            let fits = match kind {
                "staff" => caller.has(Role::Staff),
                _ => caller.has(Role::Customer),
            };
            if !fits {
                return Err(ApiError::unprocessable(
                    "not_for_participant",
                    format!("this training is for {kind}s"),
                ));
            }
        }
        if let Some(err) = closed(&session, now) {
            return Err(err);
        }
        let admitted = store::admit(
            tx,
            &Admission {
                id: Uuid::now_v7(),
                session_id,
                participant_id: participant,
                participant_kind: kind,
                guardian_ids,
                registered_by: caller.subject,
                now,
            },
        )
        .await
        .map_err(|e| {
            platform::error::on_constraint(e, |c| {
                (c == "registration_participant_key").then(|| {
                    ApiError::conflict(
                        "already_registered",
                        "the participant already holds a seat or a waitlist place in this session",
                    )
                })
            })
        })?
        .ok_or_else(|| ApiError::conflict("session_closed", "the session is cancelled or has started"))?;
        let stamp = Stamp {
            actor: Some(caller.subject),
            reason: None,
            at: now,
        };
        let seq = i64::from(admitted.version);
        match admitted.status {
            Status::Waitlisted => {
                let event = events::waitlisted(&admitted, &session, stamp);
                self.platform.outbox.stage_sequenced(tx, event, seq).await?;
            }
            _ => {
                let event = events::confirmed(&admitted, &session, stamp);
                self.platform.outbox.stage_sequenced(tx, event, seq).await?;
            }
        }
        Ok(Outcome {
            registration: admitted,
            session,
            promoted: Vec::new(),
        })
    }

    /// A registration the caller may see: the participant's, a guardian's, or anyone's for
    /// callers acting for others; another's is 404.
    pub async fn registration(&self, caller: &Principal, id: Uuid) -> Result<RegistrationRow, ApiError> {
        visible(caller, store::registration(&self.platform.pool, id).await?)
    }

    /// Registrations matching `filter`; a caller acting for themselves sees only their own.
    pub async fn registrations(
        &self,
        caller: &Principal,
        mut filter: Filter,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> Result<Vec<RegistrationRow>, ApiError> {
        if !acts_for_others(caller) {
            filter.concerning = Some(caller.subject);
        }
        Ok(store::list(&self.platform.pool, &filter, after, limit).await?)
    }

    /// Checks a cancellation's or a move's reason.
    pub fn check_registration_reason(&self, reason: &str) -> Result<(), ApiError> {
        let mut v = Validator::new();
        check_reason(&mut v, reason);
        v.finish()
    }

    /// Cancels a live registration of a session not yet started, in `tx` (its session locked
    /// first); a seat it held goes to the waitlist's lowest position.
    async fn give_up(
        &self,
        tx: &mut Tx,
        caller: &Principal,
        r: &RegistrationRow,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(RegistrationRow, SessionRow, Vec<RegistrationRow>), ApiError> {
        let session = sessions_store::lock(tx, r.session_id)
            .await?
            .ok_or_else(|| ApiError::not_found("session"))?;
        if let Some(err) = closed(&session, now) {
            return Err(err);
        }
        let cancellation = Cancellation {
            actor: caller.subject,
            reason: reason.trim(),
            now,
        };
        let (cancelled, left) = store::cancel(tx, r.id, cancellation)
            .await?
            .ok_or_else(|| ApiError::conflict("already_cancelled", "the registration is cancelled already"))?;
        let stamp = Stamp {
            actor: Some(caller.subject),
            reason: Some(reason.trim()),
            at: now,
        };
        let event = events::cancelled(&cancelled, &session, stamp);
        self.platform
            .outbox
            .stage_sequenced(tx, event, i64::from(cancelled.version))
            .await?;
        let promoted = if left == Status::Confirmed {
            store::promote(tx, session.id, now).await?
        } else {
            Vec::new()
        };
        for p in &promoted {
            let event = events::promoted(p, &session, now);
            self.platform
                .outbox
                .stage_sequenced(tx, event, i64::from(p.version))
                .await?;
        }
        Ok((cancelled, session, promoted))
    }

    /// Cancels a registration the caller may see, with the reason, in `tx`.
    pub async fn cancel_registration(
        &self,
        tx: &mut Tx,
        caller: &Principal,
        id: Uuid,
        reason: &str,
    ) -> Result<Outcome, ApiError> {
        let r = visible(caller, store::registration(&mut **tx, id).await?)?;
        let (registration, session, promoted) = self.give_up(tx, caller, &r, reason, self.now()).await?;
        Ok(Outcome {
            registration,
            session,
            promoted,
        })
    }

    /// Moves a registration to another session of the same training, in `tx`: the old seat (or
    /// place) is given up with the reason, and the new session gives a seat or the next waitlist
    /// position. Returns the new registration.
    pub async fn move_registration(
        &self,
        tx: &mut Tx,
        caller: &Principal,
        id: Uuid,
        to_session: Uuid,
        reason: &str,
    ) -> Result<Outcome, ApiError> {
        let r = visible(caller, store::registration(&mut **tx, id).await?)?;
        if r.status == Status::Cancelled {
            return Err(ApiError::conflict(
                "already_cancelled",
                "the registration is cancelled already",
            ));
        }
        let target = sessions_store::session(&mut **tx, to_session)
            .await?
            .ok_or_else(|| ApiError::field("session_id", "no such session"))?;
        if target.offering_id != r.offering_id || target.id == r.session_id {
            return Err(ApiError::field(
                "session_id",
                "must be another session of the same training",
            ));
        }
        // Both sessions locked in one order, so two moves in opposite directions cannot deadlock.
        let (first, second) = if r.session_id < to_session {
            (r.session_id, to_session)
        } else {
            (to_session, r.session_id)
        };
        sessions_store::lock(tx, first).await?;
        sessions_store::lock(tx, second).await?;
        let now = self.now();
        if let Some(err) = closed(&target, now) {
            return Err(err);
        }
        let (_, _, promoted) = self.give_up(tx, caller, &r, reason, now).await?;
        let mut outcome = self
            .admit(tx, caller, to_session, r.participant_id, &r.guardian_ids)
            .await?;
        store::set_rescheduled_to(tx, r.id, outcome.registration.id).await?;
        outcome.promoted = promoted;
        Ok(outcome)
    }
}
