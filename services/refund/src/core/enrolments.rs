//! Enrolments and payments, fed by the company's systems, and the attendance count refunds
//! are computed from.

use platform::ApiError;
use platform::auth::Principal;
use platform::error::Validator;
use uuid::Uuid;

use super::Refunds;
use crate::domain::enrolment::{self, EnrolmentRecord, Locked};
use crate::domain::policy::Facts;
use crate::store::enrolments::{self as store, EnrolmentRow, RefundState};

/// An enrolment with its refunds so far.
#[derive(Debug, Clone)]
pub struct EnrolmentView {
    pub row: EnrolmentRow,
    pub refunds: RefundState,
}

impl Refunds {
    /// Creates (`true`) or replaces the whole record of enrolment `id`. Once refunds are
    /// filed against it, its currency and customer stay, and what was paid cannot drop below
    /// what was refunded (409); the record is locked while this is checked.
    pub async fn put_enrolment(&self, id: Uuid, record: EnrolmentRecord) -> Result<(EnrolmentView, bool), ApiError> {
        let valid = record.validate(&self.enrolment_limits)?;
        let now = self.now();
        let mut tx = self.platform.pool.begin().await?;
        if let Some(row) = store::insert(&mut tx, id, &valid, now).await? {
            tx.commit().await?;
            let refunds = RefundState::default();
            return Ok((EnrolmentView { row, refunds }, true));
        }
        let stored = store::lock(&mut tx, id)
            .await?
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("enrolment {id} vanished")))?;
        let refunds = store::refund_state(&mut *tx, id).await?;
        let locked = Locked {
            customer_id: stored.customer_id.into(),
            currency: &stored.currency,
            refunded_minor: refunds.refunded_minor,
            live_requests: refunds.live_requests,
        };
        if let Some((code, detail)) = enrolment::replacement_conflict(&locked, &valid) {
            return Err(ApiError::conflict(code, detail));
        }
        let row = store::replace(&mut tx, id, &valid, now).await?;
        tx.commit().await?;
        tracing::info!(enrolment_id = %id, "enrolment replaced");
        Ok((EnrolmentView { row, refunds }, false))
    }

    /// Enrolment `id`, if the caller may read it (a customer reads only their own).
    pub async fn enrolment(&self, caller: &Principal, id: Uuid) -> Result<EnrolmentView, ApiError> {
        let row = store::get(&self.platform.pool, id)
            .await?
            .filter(|e| caller.may_read_customer(e.customer_id))
            .ok_or_else(|| ApiError::not_found("enrolment"))?;
        let refunds = store::refund_state(&self.platform.pool, id).await?;
        Ok(EnrolmentView { row, refunds })
    }

    /// Records the sessions attended so far.
    pub async fn set_attendance(&self, id: Uuid, attended: i32) -> Result<EnrolmentView, ApiError> {
        let mut v = Validator::new();
        enrolment::check_attended(&mut v, attended, "attended_sessions");
        v.finish()?;
        let row = store::set_attendance(&self.platform.pool, id, attended, self.now())
            .await?
            .ok_or_else(|| ApiError::not_found("enrolment"))?;
        let refunds = store::refund_state(&self.platform.pool, id).await?;
        Ok(EnrolmentView { row, refunds })
    }
}

/// What the policy engine reads about enrolment `e`, with `refunded_minor` already refunded.
pub fn facts(e: &EnrolmentRow, refunded_minor: i64) -> Facts {
    Facts {
        paid_minor: e.paid_minor,
        currency: e.currency.clone(),
        enrolled_at: e.enrolled_at,
        service_ends_at: e.service_ends_at,
        total_sessions: u32::try_from(e.total_sessions).unwrap_or(0),
        attended_sessions: u32::try_from(e.attended_sessions).unwrap_or(0),
        non_refundable: e.non_refundable.clone(),
        discount_minor: e.discount_minor,
        already_refunded_minor: refunded_minor,
    }
}
