//! Filing and reading refund requests.

use platform::auth::Principal;
use platform::{ApiError, Platform, Tx};
use uuid::Uuid;

use crate::domain::refund::{self, NewRefund, RefundLimits};
use crate::store::{self, RefundRow};

/// Refund requests. Cheap to clone.
#[derive(Clone)]
pub struct Refunds {
    platform: Platform,
    limits: RefundLimits,
}

impl Refunds {
    pub fn new(platform: Platform, limits: RefundLimits) -> Self {
        Self { platform, limits }
    }

    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    /// Checks `request` and records it for `caller` in `tx` (the caller's idempotency
    /// transaction). Nothing is written when a field is invalid.
    pub async fn file(&self, tx: &mut Tx, caller: &Principal, request: &NewRefund<'_>) -> Result<RefundRow, ApiError> {
        let valid = refund::validate(caller, request, &self.limits)?;
        Ok(store::insert_refund(tx, &valid, caller.subject).await?)
    }

    /// The request `id`, if the caller may read it (a customer reads only their own).
    pub async fn read(&self, caller: &Principal, id: Uuid) -> Result<RefundRow, ApiError> {
        match store::refund(&self.platform.pool, id).await? {
            Some(r) if caller.may_read_customer(r.customer_id) => Ok(r),
            _ => Err(ApiError::not_found("refund request")),
        }
    }
}
