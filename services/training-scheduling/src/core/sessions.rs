//! Sessions: reading and listing them, moving one occurrence and cancelling one, each with its
//! reason and actor logged, its revision bumped and its attendees told (through the event).

use chrono::{DateTime, Utc};
use platform::auth::{Principal, Role, StaffFunction};
use platform::error::Validator;
use platform::{ApiError, Tx};
use uuid::Uuid;

use super::catalog::clash_problem;
use super::{Scheduling, clash_conflict};
use crate::domain::offering::instant;
use crate::domain::registration::check_reason;
use crate::events;
use crate::store::offerings as offerings_store;
use crate::store::sessions::{self as store, Change, ChangeRow, Filter, SessionRow};

/// A move as requested.
#[derive(Debug, Clone, Copy)]
pub struct Move<'a> {
    pub starts_at: &'a str,
    pub ends_at: &'a str,
    pub reason: &'a str,
}

/// A checked move.
#[derive(Debug, Clone, Copy)]
pub struct CheckedMove {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// Trainers who are nothing more change only the sessions they teach.
fn may_change(caller: &Principal, s: &SessionRow) -> bool {
    let only_trainer = caller.has_function(StaffFunction::Trainer)
        && !caller.has_any(&[Role::Supervisor, Role::Admin, Role::Service])
        && !caller.has_function(StaffFunction::ClassAdvisor);
    !only_trainer || s.trainer_id == Some(caller.subject)
}

impl Scheduling {
    pub async fn session(&self, id: Uuid) -> Result<SessionRow, ApiError> {
        store::session(&self.platform.pool, id)
            .await?
            .ok_or_else(|| ApiError::not_found("session"))
    }

    /// Sessions ending after `from` (default now), earliest first, after the cursor.
    pub async fn sessions(
        &self,
        filter: &Filter,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> Result<Vec<SessionRow>, ApiError> {
        Ok(store::list(&self.platform.pool, filter, self.now(), after, limit).await?)
    }

    pub async fn session_changes(&self, id: Uuid) -> Result<Vec<ChangeRow>, ApiError> {
        Ok(store::changes(&self.platform.pool, id).await?)
    }

    /// Checks a move's fields as of now.
    pub fn check_move(&self, m: &Move<'_>) -> Result<CheckedMove, ApiError> {
        let mut v = Validator::new();
        let starts_at = instant(&mut v, m.starts_at, "starts_at");
        let ends_at = instant(&mut v, m.ends_at, "ends_at");
        check_reason(&mut v, m.reason);
        if let Some(s) = starts_at {
            v.check(s > self.now(), "starts_at", "must be in the future");
        }
        if let (Some(s), Some(e)) = (starts_at, ends_at) {
            v.check(e > s, "ends_at", "must be after starts_at");
            v.check(
                (e - s).num_minutes() <= self.limits.max_session_minutes,
                "ends_at",
                format!("a session lasts at most {} minutes", self.limits.max_session_minutes),
            );
        }
        v.finish()?;
        match (starts_at, ends_at) {
            (Some(starts_at), Some(ends_at)) => Ok(CheckedMove { starts_at, ends_at }),
            _ => Err(ApiError::field("starts_at", "is required")),
        }
    }

    /// Locks a session that may still change: 404 when unknown (or not the trainer's own), 409
    /// when cancelled or already started.
    async fn changeable(&self, tx: &mut Tx, caller: &Principal, id: Uuid) -> Result<SessionRow, ApiError> {
        let s = store::lock(tx, id)
            .await?
            .filter(|s| may_change(caller, s))
            .ok_or_else(|| ApiError::not_found("session"))?;
        if s.is_cancelled() {
            return Err(ApiError::conflict("session_cancelled", "the session is cancelled"));
        }
        if s.starts_at <= self.now() {
            return Err(ApiError::conflict(
                "session_started",
                "the session has started or taken place",
            ));
        }
        Ok(s)
    }

    /// Moves a session to a checked new time, in `tx`.
    pub async fn reschedule(
        &self,
        tx: &mut Tx,
        caller: &Principal,
        id: Uuid,
        to: CheckedMove,
        reason: &str,
    ) -> Result<SessionRow, ApiError> {
        let before = self.changeable(tx, caller, id).await?;
        if let Some(clash) = offerings_store::first_clash(
            tx,
            before.trainer_id,
            before.room.as_deref(),
            &[to.starts_at],
            &[to.ends_at],
            Some(id),
        )
        .await?
        {
            return Err(clash_problem(&clash));
        }
        let now = self.now();
        let after = store::reschedule(tx, id, to.starts_at, to.ends_at, now)
            .await
            .map_err(|e| platform::error::on_constraint(e, clash_conflict))?;
        let reason = reason.trim();
        store::log_change(
            tx,
            &Change {
                action: "rescheduled",
                before: &before,
                after: &after,
                reason,
                actor: caller.subject,
                at: now,
            },
        )
        .await?;
        let who = store::attendees(tx, &after, false).await?;
        let event = events::rescheduled(&before, &after, who, caller.subject, reason, now);
        self.platform
            .outbox
            .stage_sequenced(tx, event, i64::from(after.sequence))
            .await?;
        Ok(after)
    }

    /// Cancels a session, in `tx`. Its registrations stay (the calendar shows it cancelled).
    pub async fn cancel_session(
        &self,
        tx: &mut Tx,
        caller: &Principal,
        id: Uuid,
        reason: &str,
    ) -> Result<SessionRow, ApiError> {
        let before = self.changeable(tx, caller, id).await?;
        let now = self.now();
        let after = store::cancel(tx, id, now).await?;
        let reason = reason.trim();
        store::log_change(
            tx,
            &Change {
                action: "cancelled",
                before: &before,
                after: &after,
                reason,
                actor: caller.subject,
                at: now,
            },
        )
        .await?;
        let who = store::attendees(tx, &after, true).await?;
        let event = events::session_cancelled(&after, who, caller.subject, reason, now);
        self.platform
            .outbox
            .stage_sequenced(tx, event, i64::from(after.sequence))
            .await?;
        Ok(after)
    }

    /// Checks a cancellation's reason.
    pub fn check_reason(&self, reason: &str) -> Result<(), ApiError> {
        let mut v = Validator::new();
        check_reason(&mut v, reason);
        v.finish()
    }
}
