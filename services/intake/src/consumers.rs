//! What intake consumes: routing's assignments.

use contracts::RawEnvelope;
use contracts::routing::TicketAssignedV1;
use futures_util::future::BoxFuture;
use platform::Tx;
use platform::bus::consumer::{ConsumerSpec, EventHandler, HandlerError};

use crate::domain::lifecycle::Action;
use crate::lifecycle::Lifecycle;
use crate::store;

/// `routing.ticket.assigned` → the ticket is assigned to the agent (a queued ticket moves to
/// `assigned`; one already being worked on changes hands). A ticket that moved on meanwhile
/// (resolved, cancelled) is left as it is.
pub struct TicketAssigned {
    pub lifecycle: Lifecycle,
}

impl TicketAssigned {
    pub fn spec() -> ConsumerSpec {
        ConsumerSpec::new("routing-assigned", &[<TicketAssignedV1 as contracts::Event>::TYPE])
    }
}

impl EventHandler for TicketAssigned {
    fn handle<'a>(&'a self, tx: &'a mut Tx, event: &'a RawEnvelope) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let a = event.decode::<TicketAssignedV1>()?.data;
            let Some(ticket) = store::ticket_for_update(tx, a.ticket_id).await? else {
                tracing::warn!(ticket_id = %a.ticket_id, "assignment for a ticket intake does not know; ignored");
                return Ok(());
            };
            if ticket.assignee_id == Some(a.agent_id) {
                return Ok(());
            }
            match ticket.status.as_str() {
                "queued" | "assigned" => {
                    self.lifecycle
                        .apply_with(tx, &ticket, Action::Assign, a.agent_id, Some(a.agent_id))
                        .await
                        .map_err(|e| HandlerError::Retry(anyhow::anyhow!("{}: {}", e.code, e.detail)))?;
                }
                "in_progress" | "waiting_on_customer" => {
                    sqlx::query("UPDATE ticket SET assignee_id = $2, updated_at = now() WHERE id = $1")
                        .bind(a.ticket_id)
                        .bind(a.agent_id)
                        .execute(&mut **tx)
                        .await?;
                }
                other => {
                    tracing::info!(ticket_id = %a.ticket_id, status = other, "assignment after the ticket moved on; ignored")
                }
            }
            Ok(())
        })
    }
}
