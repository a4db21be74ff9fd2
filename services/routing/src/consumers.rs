//! What routing consumes: intake's ticket events.

use chrono::Utc;
use contracts::RawEnvelope;
use contracts::intake::{TicketCreatedV1, TicketMessageAddedV1, TicketStatusChangedV1};
use futures_util::future::BoxFuture;
use platform::Tx;
use platform::bus::consumer::{ConsumerSpec, EventHandler, HandlerError};

use crate::router::Router;
use crate::store;

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
            let id = changed.ticket_id;
            let sla = self.router.sla();
            let now = changed.changed_at.min(Utc::now());
            if changed.from == "waiting_on_customer" && changed.to != "waiting_on_customer" {
                sla.resume(tx, id, now).await?;
            }
            match changed.to.as_str() {
                "queued" => self.router.requeue(tx, id).await?,
                "assigned" | "in_progress" => self.router.assigned_elsewhere(tx, id, changed.assignee_id).await?,
                "waiting_on_customer" => sla.pause(tx, id, now).await?,
                "resolved" => {
                    sla.fulfil(tx, id, "resolution", now).await?;
                    self.router.release(tx, id, "resolved").await?;
                }
                to @ ("closed" | "cancelled") => self.router.release(tx, id, to).await?,
                _ => {}
            }
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
            let sla = self.router.sla();
            sla.fulfil(tx, m.ticket_id, "first_response", now).await?;
            sla.fulfil(tx, m.ticket_id, "next_update", now).await?;
            if let Some(entry) = store::entry(&mut **tx, m.ticket_id).await?
                && entry.status != "closed"
            {
                self.router.catalog().fresh().await?;
                sla.restart_next_update(tx, &entry, &self.router.catalog().policies(), now)
                    .await?;
            }
            Ok(())
        })
    }
}
