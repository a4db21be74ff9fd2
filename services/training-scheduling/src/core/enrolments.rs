//! Class membership: the company's systems enrol a student in a class under their enrolment id
//! (with the student's guardians), and the student follows the class's sessions; a class
//! transfer decided in refund (`refund.class_transferred`) moves them and their seat to the new
//! class. The classes' rows are locked (in id order) before seats change.

use chrono::{DateTime, Utc};
use contracts::refund::ClassTransferredV1;
use platform::auth::Principal;
use platform::error::Validator;
use platform::{ApiError, Tx};
use uuid::Uuid;

use super::{Scheduling, acts_for_others};
use crate::domain::registration::check_guardians;
use crate::events;
use crate::store::enrolments::{self as store, EnrolmentRow, EnrolmentWrite};
use crate::store::offerings::{self as offerings_store, OfferingRow};
use crate::store::sessions as sessions_store;

pub const ENROLMENT_STATUSES: [&str; 2] = ["active", "withdrawn"];

/// An enrolment as the company's systems send it.
#[derive(Debug, Clone, Copy)]
pub struct EnrolmentPut<'a> {
    /// The class's id or code.
    pub class_id: &'a str,
    pub customer_id: Uuid,
    pub guardian_ids: &'a [Uuid],
    pub status: &'a str,
}

/// What a write did.
#[derive(Debug, Clone)]
pub struct Enrolled {
    pub enrolment: EnrolmentRow,
    pub created: bool,
}

/// Why a transfer event could not be applied (it is parked for an operator).
#[derive(Debug)]
pub struct UnknownClass(pub String);

impl std::fmt::Display for UnknownClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no class `{}` here to transfer to", self.0)
    }
}

impl std::error::Error for UnknownClass {}

/// The two classes (old and new) locked in id order; the old one only when it differs.
async fn lock_pair(
    tx: &mut Tx,
    old: Option<Uuid>,
    new: Uuid,
) -> Result<(Option<OfferingRow>, OfferingRow), sqlx::Error> {
    let mut ids = vec![new];
    ids.extend(old.filter(|o| *o != new));
    let mut rows = offerings_store::lock_offerings(tx, &ids).await?;
    let new_pos = rows.iter().position(|o| o.id == new).unwrap_or(0);
    let target = rows.remove(new_pos);
    let old = match old {
        Some(o) if o == new => Some(target.clone()),
        Some(_) => rows.pop(),
        None => None,
    };
    Ok((old, target))
}

impl Scheduling {
    /// Checks an enrolment's fields.
    pub fn check_enrolment(&self, e: &EnrolmentPut<'_>) -> Result<(), ApiError> {
        let mut v = Validator::new();
        v.check(
            !e.class_id.trim().is_empty() && e.class_id.len() <= 64,
            "class_id",
            "the class's id or code",
        );
        check_guardians(&mut v, e.customer_id, e.guardian_ids, "guardian_ids");
        v.one_of(e.status, &ENROLMENT_STATUSES, "status");
        v.finish()
    }

    /// Records the enrolment as sent, in `tx`: a new student takes a seat (409 `class_full`
    /// when none is left), a withdrawn one frees theirs, and a change of class moves the seat
    /// (and publishes `training.enrolment.transferred`).
    pub async fn put_enrolment(&self, tx: &mut Tx, id: Uuid, e: &EnrolmentPut<'_>) -> Result<Enrolled, ApiError> {
        let now = self.now();
        let target = offerings_store::find_class(tx, e.class_id.trim())
            .await?
            .ok_or_else(|| ApiError::field("class_id", "no such class"))?;
        let old = store::lock(tx, id).await?;
        if let Some(old) = &old
            && old.customer_id != e.customer_id
        {
            return Err(ApiError::conflict(
                "customer_locked",
                "the enrolment belongs to another customer",
            ));
        }
        let (old_class, class) = lock_pair(tx, old.as_ref().map(|o| o.class_id), target).await?;
        let was_here = old.as_ref().is_some_and(|o| o.is_active() && o.class_id == target);
        let active = e.status == "active";
        if active && !was_here && class.seats_taken >= class.capacity {
            return Err(ApiError::conflict(
                "class_full",
                format!(
                    "the class has no free seat ({} of {})",
                    class.seats_taken, class.capacity
                ),
            ));
        }
        let moved_from = old
            .as_ref()
            .filter(|o| o.is_active() && o.class_id != target && active)
            .and(old_class.as_ref());
        let written = self
            .write_enrolment(
                tx,
                old.as_ref(),
                &EnrolmentWrite {
                    id,
                    class_id: target,
                    customer_id: e.customer_id,
                    guardian_ids: e.guardian_ids,
                    status: e.status,
                    transferred_from: moved_from.map(|c| c.id),
                    transfer_request_id: None,
                    now,
                },
            )
            .await?;
        if let Some(from) = moved_from {
            self.stage_transfer(tx, &written, Some(from), &class, None, now).await?;
        }
        Ok(Enrolled {
            enrolment: written,
            created: old.is_none(),
        })
    }

    /// Writes an enrolment and moves the seats it holds.
    async fn write_enrolment(
        &self,
        tx: &mut Tx,
        old: Option<&EnrolmentRow>,
        w: &EnrolmentWrite<'_>,
    ) -> Result<EnrolmentRow, sqlx::Error> {
        let held = old.filter(|o| o.is_active()).map(|o| o.class_id);
        let holds = (w.status == "active").then_some(w.class_id);
        if held != holds {
            if let Some(c) = held {
                offerings_store::add_class_seats(tx, c, -1, w.now).await?;
            }
            if let Some(c) = holds {
                offerings_store::add_class_seats(tx, c, 1, w.now).await?;
            }
        }
        store::upsert(tx, w).await
    }

    async fn stage_transfer(
        &self,
        tx: &mut Tx,
        e: &EnrolmentRow,
        from: Option<&OfferingRow>,
        to: &OfferingRow,
        request_id: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let next = sessions_store::next_of_offering(tx, to.id, now).await?;
        let event = events::transferred(e, from, to, next.as_ref(), request_id, now);
        self.platform
            .outbox
            .stage_sequenced(tx, event, i64::from(e.version))
            .await?;
        Ok(())
    }

    /// `refund.class_transferred`: moves the student (enrolled here or not yet) and their seat
    /// to the new class, in the consumer's transaction. The decision was taken in after-sales,
    /// so it is applied even when the new class is full. An enrolment already active in the new
    /// class is left as it is.
    pub async fn transfer(&self, tx: &mut Tx, t: &ClassTransferredV1) -> anyhow::Result<Option<EnrolmentRow>> {
        let now = self.now();
        let target = offerings_store::find_class(tx, t.to_class_id.trim())
            .await?
            .ok_or_else(|| UnknownClass(t.to_class_id.clone()))?;
        let old = store::lock(tx, t.enrolment_id).await?;
        if old.as_ref().is_some_and(|o| o.is_active() && o.class_id == target) {
            return Ok(None);
        }
        let (old_class, class) = lock_pair(tx, old.as_ref().map(|o| o.class_id), target).await?;
        let guardians = old.as_ref().map(|o| o.guardian_ids.clone()).unwrap_or_default();
        let from = old.as_ref().and(old_class.as_ref());
        let written = self
            .write_enrolment(
                tx,
                old.as_ref(),
                &EnrolmentWrite {
                    id: t.enrolment_id,
                    class_id: target,
                    customer_id: old.as_ref().map_or(t.customer_id.0, |o| o.customer_id),
                    guardian_ids: &guardians,
                    status: "active",
                    transferred_from: from.map(|c| c.id),
                    transfer_request_id: Some(t.request_id),
                    now,
                },
            )
            .await?;
        self.stage_transfer(tx, &written, from, &class, Some(t.request_id), now)
            .await?;
        Ok(Some(written))
    }

    /// An enrolment the caller may see: the student's, a guardian's, or anyone's for callers
    /// acting for others; another's is 404.
    pub async fn enrolment(&self, caller: &Principal, id: Uuid) -> Result<EnrolmentRow, ApiError> {
        store::enrolment(&self.platform.pool, id)
            .await?
            .filter(|e| acts_for_others(caller) || e.concerns(caller.subject))
            .ok_or_else(|| ApiError::not_found("enrolment"))
    }

    /// A class's active students.
    pub async fn roster(&self, class_id: Uuid) -> Result<Vec<EnrolmentRow>, ApiError> {
        Ok(store::of_class(&self.platform.pool, class_id).await?)
    }
}
