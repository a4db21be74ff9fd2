//! Intake's durable timers: when a job comes due, its ticket is decoded from the payload and the
//! lifecycle applies the timer's transition (see `core/lifecycle.rs`).

use contracts::TicketId;
use futures_util::future::BoxFuture;
use platform::Tx;
use platform::jobs::{Job, JobHandler};

use crate::core::lifecycle::Lifecycle;
use crate::domain::lifecycle::{Action, Status};

pub use crate::core::lifecycle::{ANSWER_TIMEOUT_JOB, AUTO_CLOSE_JOB};

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
            let id: TicketId = serde_json::from_value(job.payload["ticket_id"].clone())?;
            self.lifecycle.apply_if_still(tx, id, self.when, self.action).await
        })
    }
}
