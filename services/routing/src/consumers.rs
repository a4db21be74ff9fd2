//! What routing consumes: intake's ticket events, each decoded and handed to the router.

use chrono::Utc;
use contracts::RawEnvelope;
use contracts::intake::{TicketCreatedV1, TicketMessageAddedV1, TicketStatusChangedV1};
use futures_util::future::BoxFuture;
use platform::Tx;
use platform::bus::consumer::{ConsumerSpec, EventHandler, HandlerError};

use crate::core::router::Router;

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
            self.router.admit(tx, &created).await?;
            Ok(())
        })
    }

    fn committed(&self, _event: &RawEnvelope) {
        self.router.wake();
    }
}

/// `intake.ticket.status_changed` → re-queued, recorded as assigned, clocks paused or resumed,
/// released when resolved, closed or cancelled.
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
            self.router.status_changed(tx, &changed).await?;
            Ok(())
        })
    }

    fn committed(&self, _event: &RawEnvelope) {
        self.router.wake();
    }
}

/// `intake.ticket.message_added` → an agent's public reply stops the first-response clock and
/// (re)starts the next-update clock.
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
            let now = m.added_at.min(Utc::now());
            self.router.agent_replied(tx, m.ticket_id, now).await?;
            Ok(())
        })
    }
}
