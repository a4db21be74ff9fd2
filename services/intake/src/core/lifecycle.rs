//! Applying lifecycle transitions: the status change, its events and its timers, in the
//! caller's transaction. The HTTP handlers, customer replies, routing's assignments and the
//! timers (`jobs.rs`) all come through here.
//!
//! Time comes from the service's clock (`Platform.clock`): the reopen window, the auto-close
//! timer, survey expiry, follow-up due times and every timestamp written. Each event about the
//! ticket carries its number (`subjectseq`, the ticket's version after the change; see
//! [`TicketRow::version`]).

use contracts::{AgentId, TicketId};
use platform::jobs::{Jobs, NewJob};
use platform::{ApiError, Clock, Tx};
use uuid::Uuid;

use crate::core::surveys::SurveyLinks;
use crate::domain::lifecycle::{Action, Status, Timing, refusal};
use crate::events;
use crate::store::{self, StatusChange, TicketRow};

/// Job kind closing a resolved ticket after the quiet period.
pub const AUTO_CLOSE_JOB: &str = "ticket.auto_close";
/// Job kind handing an auto-answered ticket to a person when the customer gave no verdict.
pub const ANSWER_TIMEOUT_JOB: &str = "ticket.answer_timeout";

/// Everything a transition needs.
#[derive(Clone)]
pub struct Lifecycle {
    pub outbox: platform::bus::outbox::Outbox,
    pub jobs: Jobs,
    /// The service's clock: the one source of "now" for every rule here.
    pub clock: Clock,
    pub timing: Timing,
    pub surveys: SurveyLinks,
    /// Categories whose resolved tickets get a follow-up visit.
    pub follow_up_categories: std::sync::Arc<Vec<String>>,
}

impl Lifecycle {
    /// Applies `action` to the locked `ticket` on behalf of `actor`, staging the events and
    /// (re)scheduling the auto-close timer. An action the status does not allow is a 409.
    pub async fn apply(
        &self,
        tx: &mut Tx,
        ticket: &TicketRow,
        action: Action,
        actor: Uuid,
    ) -> Result<TicketRow, ApiError> {
        self.apply_with(tx, ticket, action, actor, None).await
    }

    /// [`Self::apply`], also setting the ticket's assignee (assign, start).
    pub async fn apply_with(
        &self,
        tx: &mut Tx,
        ticket: &TicketRow,
        action: Action,
        actor: Uuid,
        assignee: Option<AgentId>,
    ) -> Result<TicketRow, ApiError> {
        let from = ticket.status;
        let (allowed, to) = action.rule();
        let now = self.clock.now();
        if action == Action::Reopen
            && let Some(resolved_at) = ticket.resolved_at
            && now - resolved_at > chrono::Duration::hours(i64::from(self.timing.reopen_window_hours))
        {
            return Err(ApiError::conflict(
                "reopen_window_passed",
                format!(
                    "a ticket can be reopened within {} hours of its resolution",
                    self.timing.reopen_window_hours
                ),
            ));
        }
        // `status_changed`, and `resolved` or `reopened` with it.
        let published = if matches!(action, Action::Resolve | Action::Reopen) {
            2
        } else {
            1
        };
        let change = StatusChange {
            from: allowed,
            to,
            actor,
            assignee,
            events: published,
            now,
        };
        let mut updated = store::set_status(tx, ticket.id, &change)
            .await?
            .ok_or_else(|| ApiError::conflict("illegal_transition", refusal(action, from)))?;
        self.outbox
            .stage_sequenced(
                tx,
                events::status_changed(&updated, from, action, actor, now),
                updated.version - published + 1,
            )
            .await?;
        match action {
            Action::Resolve => {
                self.outbox
                    .stage_sequenced(tx, events::resolved(&updated, actor, now), updated.version)
                    .await?;
                let key = auto_close_key(&updated);
                self.jobs
                    .schedule(
                        &mut **tx,
                        NewJob {
                            kind: AUTO_CLOSE_JOB,
                            dedupe_key: Some(&key),
                            payload: &serde_json::json!({ "ticket_id": updated.id }),
                            due_at: now + chrono::Duration::hours(i64::from(self.timing.auto_close_after_hours)),
                            max_attempts: None,
                        },
                    )
                    .await?;
                // A survey after every inquiry, once per ticket.
                let (token, expires_at) = self.surveys.issue(updated.id, now)?;
                if let Some(seq) = store::surveys::request(tx, updated.id, updated.customer_id, expires_at, now).await?
                {
                    updated.version = seq;
                    self.outbox
                        .stage_sequenced(tx, events::survey_requested(&updated, token, expires_at, now), seq)
                        .await?;
                }
                if self.follow_up_categories.contains(&updated.category) {
                    let due = now + chrono::Duration::hours(i64::from(self.timing.follow_up_after_hours));
                    store::surveys::schedule_follow_up(tx, updated.id, due).await?;
                }
            }
            Action::Reopen => {
                store::surveys::cancel_follow_up(tx, updated.id).await?;
                // The timer of the resolution being undone.
                self.jobs
                    .cancel(&mut **tx, AUTO_CLOSE_JOB, &auto_close_key(ticket))
                    .await?;
                self.outbox
                    .stage_sequenced(tx, events::reopened(&updated, actor, now), updated.version)
                    .await?;
            }
            Action::Close => {
                self.jobs
                    .cancel(&mut **tx, AUTO_CLOSE_JOB, &auto_close_key(ticket))
                    .await?;
            }
            _ => {}
        }
        tracing::info!(ticket_id = %updated.id, from = from.as_str(), to = to.as_str(), action = action.as_str(), "ticket status changed");
        Ok(updated)
    }
}

/// One auto-close timer per resolution of a ticket.
fn auto_close_key(t: &TicketRow) -> String {
    format!("{}:{}", t.id, t.reopen_count)
}

impl Lifecycle {
    /// Applies `action` as the service itself (a timer came due) if the ticket is still `when`;
    /// a ticket that moved on in the meantime, or is gone, is left alone.
    pub async fn apply_if_still(&self, tx: &mut Tx, id: TicketId, when: Status, action: Action) -> anyhow::Result<()> {
        let Some(ticket) = store::ticket_for_update(tx, id).await? else {
            return Ok(());
        };
        if ticket.status == when {
            self.apply(tx, &ticket, action, Uuid::nil())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        Ok(())
    }

    /// Routing assigned the ticket to `agent` in its event number `seq` about the ticket: a
    /// queued ticket moves to `assigned`; one already being worked on changes hands. An event
    /// not newer than the last routing event applied to the ticket is stale and changes
    /// nothing (the check and the change are one transaction on the locked row), so a late
    /// assignment cannot undo a newer one. A ticket that moved on meanwhile (resolved,
    /// cancelled), or one intake does not know, is left as it is.
    pub async fn take_assignment(
        &self,
        tx: &mut Tx,
        id: TicketId,
        agent: AgentId,
        seq: Option<i64>,
    ) -> anyhow::Result<()> {
        let Some(ticket) = store::ticket_for_update(tx, id).await? else {
            tracing::warn!(ticket_id = %id, "assignment for a ticket intake does not know; ignored");
            return Ok(());
        };
        if let Some(seq) = seq
            && !store::claim_routing_seq(tx, id, seq).await?
        {
            tracing::info!(ticket_id = %id, seq, applied = ?ticket.routing_seq, "stale assignment; skipped");
            return Ok(());
        }
        if ticket.assignee_id == Some(agent) {
            return Ok(());
        }
        match ticket.status {
            Status::Queued | Status::Assigned => {
                self.apply_with(tx, &ticket, Action::Assign, agent.into(), Some(agent))
                    .await
                    .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.detail))?;
            }
            Status::InProgress | Status::WaitingOnCustomer => {
                store::set_assignee(tx, id, agent, self.clock.now()).await?
            }
            other => {
                tracing::info!(ticket_id = %id, status = other.as_str(), "assignment after the ticket moved on; ignored")
            }
        }
        Ok(())
    }
}
