//! What notifications consumes.

use chrono::Utc;
use contracts::RawEnvelope;
use contracts::routing::TicketQueuedV1;
use futures_util::future::BoxFuture;
use platform::Tx;
use platform::bus::consumer::{ConsumerSpec, EventHandler, HandlerError};
use uuid::Uuid;

use crate::domain::message::{self, Locale};
use crate::store::{self, DeliveryRow};

/// `routing.ticket.queued` → "ticket received" in the customer's in-app inbox.
pub struct TicketQueued {
    pub locale: Locale,
}

impl TicketQueued {
    pub fn spec() -> ConsumerSpec {
        ConsumerSpec::new("ticket-queued", &[<TicketQueuedV1 as contracts::Event>::TYPE])
    }
}

impl EventHandler for TicketQueued {
    fn handle<'a>(&'a self, tx: &'a mut Tx, event: &'a RawEnvelope) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let queued = event.decode::<TicketQueuedV1>()?;
            let msg = message::ticket_received(self.locale, queued.data.ticket_id);
            let inserted = store::insert_delivery(
                tx,
                &DeliveryRow {
                    id: Uuid::now_v7(),
                    event_id: queued.id,
                    event_type: queued.event_type.clone(),
                    recipient_id: queued.data.customer_id,
                    channel: "in_app".to_owned(),
                    kind: msg.kind.to_owned(),
                    locale: self.locale.as_str().to_owned(),
                    title: msg.title,
                    body: msg.body,
                    status: "delivered".to_owned(),
                    trace_id: platform::telemetry::current_trace_id(),
                    read_at: None,
                    created_at: Utc::now(),
                },
            )
            .await?;
            if inserted {
                tracing::info!(ticket_id = %queued.data.ticket_id, "ticket-received delivered to the inbox");
            }
            Ok(())
        })
    }
}
