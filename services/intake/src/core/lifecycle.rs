//! Applying lifecycle transitions: the status change, its events and its timers, in the
//! caller's transaction. The HTTP handlers, customer replies and the auto-close job all come
//! through here.

use chrono::Utc;
use contracts::intake::{SurveyRequestedV1, TicketReopenedV1, TicketResolvedV1, TicketStatusChangedV1};
use futures_util::future::BoxFuture;
use platform::jobs::{Job, JobHandler, Jobs, NewJob};
use platform::{ApiError, Tx};
use uuid::Uuid;

use crate::domain::lifecycle::{Action, Status, refusal};
use crate::store::{self, TicketRow};

/// Job kind closing a resolved ticket after the quiet period.
pub const AUTO_CLOSE_JOB: &str = "ticket.auto_close";
/// Job kind handing an auto-answered ticket to a person when the customer gave no verdict.
pub const ANSWER_TIMEOUT_JOB: &str = "ticket.answer_timeout";

/// Timing rules of the lifecycle (from the `[service]` settings).
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub auto_close_after_hours: u32,
    pub reopen_window_hours: u32,
    pub follow_up_after_hours: u32,
}

/// Everything a transition needs.
#[derive(Clone)]
pub struct Lifecycle {
    pub outbox: platform::bus::outbox::Outbox,
    pub jobs: Jobs,
    pub timing: Timing,
    pub surveys: crate::surveys::SurveyLinks,
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
        assignee: Option<Uuid>,
    ) -> Result<TicketRow, ApiError> {
        let from = Status::parse(&ticket.status)
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown status {}", ticket.status)))?;
        let (allowed, to) = action.rule();
        if action == Action::Reopen
            && let Some(resolved_at) = ticket.resolved_at
            && Utc::now() - resolved_at > chrono::Duration::hours(i64::from(self.timing.reopen_window_hours))
        {
            return Err(ApiError::conflict(
                "reopen_window_passed",
                format!(
                    "a ticket can be reopened within {} hours of its resolution",
                    self.timing.reopen_window_hours
                ),
            ));
        }
        let updated = store::set_status(tx, ticket.id, allowed, to, actor, assignee)
            .await?
            .ok_or_else(|| ApiError::conflict("illegal_transition", refusal(action, from)))?;
        let now = Utc::now();
        self.outbox
            .stage(
                tx,
                TicketStatusChangedV1 {
                    ticket_id: updated.id,
                    customer_id: updated.customer_id,
                    from: from.as_str().to_owned(),
                    to: to.as_str().to_owned(),
                    action: action.as_str().to_owned(),
                    actor_id: actor,
                    assignee_id: updated.assignee_id,
                    changed_at: now,
                },
            )
            .await?;
        match action {
            Action::Resolve => {
                self.outbox
                    .stage(
                        tx,
                        TicketResolvedV1 {
                            ticket_id: updated.id,
                            customer_id: updated.customer_id,
                            resolved_by: actor,
                            resolved_at: updated.resolved_at.unwrap_or(now),
                            first_response_at: updated.first_response_at,
                            created_at: updated.created_at,
                        },
                    )
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
                let (token, expires_at) = self.surveys.issue(updated.id)?;
                if store::surveys::request(tx, updated.id, updated.customer_id, expires_at).await? {
                    self.outbox
                        .stage(
                            tx,
                            SurveyRequestedV1 {
                                ticket_id: updated.id,
                                customer_id: updated.customer_id,
                                token,
                                expires_at,
                                requested_at: now,
                            },
                        )
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
                    .stage(
                        tx,
                        TicketReopenedV1 {
                            ticket_id: updated.id,
                            customer_id: updated.customer_id,
                            reopened_by: actor,
                            reopen_count: updated.reopen_count,
                            reopened_at: now,
                        },
                    )
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

/// A timer's transition: when the job comes due, applies `action` (as the service itself) if
/// the ticket is still `when`; a ticket that moved on in the meantime is left alone.
pub struct TimedTransition {
    pub lifecycle: Lifecycle,
    pub when: Status,
    pub action: Action,
}

impl TimedTransition {
    /// Closes a ticket still resolved when its quiet period ends.
    pub fn auto_close(lifecycle: Lifecycle) -> Self {
        Self {
            lifecycle,
            when: Status::Resolved,
            action: Action::Close,
        }
    }

    /// Hands a ticket still waiting for the customer's verdict on its automatic answer to a
    /// person.
    pub fn answer_timeout(lifecycle: Lifecycle) -> Self {
        Self {
            lifecycle,
            when: Status::AutoAnswered,
            action: Action::Queue,
        }
    }
}

impl JobHandler for TimedTransition {
    fn run<'a>(&'a self, tx: &'a mut Tx, job: &'a Job) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let id: Uuid = serde_json::from_value(job.payload["ticket_id"].clone())?;
            let Some(ticket) = store::ticket_for_update(tx, id).await? else {
                return Ok(());
            };
            if ticket.status == self.when.as_str() {
                self.lifecycle
                    .apply(tx, &ticket, self.action, Uuid::nil())
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            Ok(())
        })
    }
}
