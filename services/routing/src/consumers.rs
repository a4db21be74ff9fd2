//! What routing consumes: intake's ticket events, each decoded and handed to the router.

use contracts::RawEnvelope;
use contracts::intake::{TicketCreatedV1, TicketMessageAddedV1, TicketStatusChangedV1};
use futures_util::future::BoxFuture;
use platform::Tx;
use platform::bus::consumer::{ConsumerSpec, EventHandler, HandlerError};

use crate::core::router::Router;
use crate::store::entries::IntakeOrder;

/// An event about a ticket whose `created` has not landed yet: retried after the configured
/// delays (so the `created` still in flight lands first), parked only if it never comes.
fn not_known_yet(event: &RawEnvelope) -> HandlerError {
    HandlerError::Retry(anyhow::anyhow!(
        "{} about a ticket routing does not know yet (subject {:?})",
        event.event_type,
        event.subject
    ))
}

/// `intake.ticket.created` → recorded, clocks started, queued (or held when auto-answered).
pub struct TicketCreated {
    pub router: Router,
}

impl TicketCreated {
    pub fn spec() -> ConsumerSpec {
        ConsumerSpec::new("ticket-created", &[<TicketCreatedV1 as contracts::Event>::TYPE])
    }
}

impl EventHandler for TicketCreated {
    fn handle<'a>(&'a self, tx: &'a mut Tx, event: &'a RawEnvelope) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let created = event.decode::<TicketCreatedV1>()?.data;
            self.router.admit(tx, &created, event.subjectseq).await?;
            Ok(())
        })
    }

    fn committed(&self, _event: &RawEnvelope) {
        self.router.wake();
    }
}

/// `intake.ticket.status_changed` → re-queued, recorded as assigned, clocks paused or resumed,
/// released when resolved, closed or cancelled. An event older than the last applied about the
/// ticket (by intake's `subjectseq`) is skipped; one about a ticket not known yet is retried.
pub struct TicketStatusChanged {
    pub router: Router,
}

impl TicketStatusChanged {
    pub fn spec() -> ConsumerSpec {
        ConsumerSpec::new(
            "ticket-status-changed",
            &[<TicketStatusChangedV1 as contracts::Event>::TYPE],
        )
    }
}

impl EventHandler for TicketStatusChanged {
    fn handle<'a>(&'a self, tx: &'a mut Tx, event: &'a RawEnvelope) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let changed = event.decode::<TicketStatusChangedV1>()?.data;
            match self.router.status_changed(tx, &changed, event.subjectseq).await? {
                IntakeOrder::Apply => {}
                IntakeOrder::Stale => {
                    tracing::info!(ticket_id = %changed.ticket_id, seq = ?event.subjectseq, to = %changed.to.as_str(),
                        "status change older than one applied; skipped");
                }
                IntakeOrder::Unknown => return Err(not_known_yet(event)),
            }
            Ok(())
        })
    }

    fn committed(&self, _event: &RawEnvelope) {
        self.router.wake();
    }
}

/// `intake.ticket.message_added` → an agent's public reply stops the first-response clock and
/// (re)starts the next-update clock (retried while the ticket is not known yet). Not skipped by
/// its number: a reply is not undone by a later status change, and nothing it sets is set by
/// another event.
pub struct MessageAdded {
    pub router: Router,
}

impl MessageAdded {
    pub fn spec() -> ConsumerSpec {
        ConsumerSpec::new("message-added", &[<TicketMessageAddedV1 as contracts::Event>::TYPE])
    }
}

impl EventHandler for MessageAdded {
    fn handle<'a>(&'a self, tx: &'a mut Tx, event: &'a RawEnvelope) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let m = event.decode::<TicketMessageAddedV1>()?.data;
            if m.author_role != "agent" || m.visibility != "public" {
                return Ok(());
            }
            let now = m.added_at.min(self.router.now());
            if !self.router.agent_replied(tx, m.ticket_id, now).await? {
                return Err(not_known_yet(event));
            }
            Ok(())
        })
    }
}
