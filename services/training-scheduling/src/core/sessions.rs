//! Scheduling and finding sessions.

use chrono::{DateTime, Utc};
use platform::auth::Principal;
use platform::{ApiError, Platform, Tx};
use uuid::Uuid;

use crate::domain::session::{self, NewSession, SessionLimits};
use crate::store::{self, SessionRow};

/// Sessions. Cheap to clone.
#[derive(Clone)]
pub struct Sessions {
    platform: Platform,
    limits: SessionLimits,
}

impl Sessions {
    pub fn new(platform: Platform, limits: SessionLimits) -> Self {
        Self { platform, limits }
    }

    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    /// Checks `new` as of the service clock's now; nothing is written when a field is invalid.
    pub fn check(&self, new: &NewSession<'_>) -> Result<(), ApiError> {
        session::validate(new, self.platform.clock.now(), &self.limits)
    }

    /// Records a checked session for `caller` in `tx` (the caller's idempotency transaction).
    pub async fn schedule(
        &self,
        tx: &mut Tx,
        caller: &Principal,
        new: &NewSession<'_>,
    ) -> Result<SessionRow, ApiError> {
        Ok(store::insert_session(tx, new, caller.subject).await?)
    }

    pub async fn read(&self, id: Uuid) -> Result<SessionRow, ApiError> {
        store::session(&self.platform.pool, id)
            .await?
            .ok_or_else(|| ApiError::not_found("session"))
    }

    /// Sessions from now on, earliest first, after the cursor `(starts_at, id)`.
    pub async fn upcoming(
        &self,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> Result<Vec<SessionRow>, ApiError> {
        Ok(store::upcoming(&self.platform.pool, self.platform.clock.now(), after, limit).await?)
    }
}
