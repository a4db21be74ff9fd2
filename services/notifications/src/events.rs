//! What notifications consumes.

use chrono::Utc;
use contracts::RawEnvelope;
use contracts::routing::{SlaBreachedV1, TicketQueuedV1};
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

/// Puts `msg` in `recipient`'s in-app inbox, once per event; true when it was new.
async fn to_inbox(
    tx: &mut Tx,
    event: &RawEnvelope,
    recipient: Uuid,
    locale: Locale,
    msg: message::Message,
) -> Result<bool, sqlx::Error> {
    store::insert_delivery(
        tx,
        &DeliveryRow {
            id: Uuid::now_v7(),
            event_id: event.id,
            event_type: event.event_type.clone(),
            recipient_id: recipient,
            channel: "in_app".to_owned(),
            kind: msg.kind.to_owned(),
            locale: locale.as_str().to_owned(),
            title: msg.title,
            body: msg.body,
            status: "delivered".to_owned(),
            trace_id: platform::telemetry::current_trace_id(),
            read_at: None,
            created_at: Utc::now(),
        },
    )
    .await
}

impl EventHandler for TicketQueued {
    fn handle<'a>(&'a self, tx: &'a mut Tx, event: &'a RawEnvelope) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let queued = event.decode::<TicketQueuedV1>()?.data;
            let msg = message::ticket_received(self.locale, queued.ticket_id);
            if to_inbox(tx, event, queued.customer_id, self.locale, msg).await? {
                tracing::info!(ticket_id = %queued.ticket_id, "ticket-received delivered to the inbox");
            }
            Ok(())
        })
    }
}

/// `routing.sla.breached` → the supervisor's in-app inbox.
pub struct SlaBreached {
    pub locale: Locale,
}

impl SlaBreached {
    pub fn spec() -> ConsumerSpec {
        ConsumerSpec::new("sla-breached", &[<SlaBreachedV1 as contracts::Event>::TYPE])
    }
}

impl EventHandler for SlaBreached {
    fn handle<'a>(&'a self, tx: &'a mut Tx, event: &'a RawEnvelope) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let b = event.decode::<SlaBreachedV1>()?.data;
            let Some(supervisor) = b.timer.supervisor_id else {
                tracing::warn!(ticket_id = %b.timer.ticket_id, "breach with no supervisor to tell");
                return Ok(());
            };
            let msg = message::sla_breached(
                self.locale,
                b.timer.ticket_id,
                &b.timer.metric,
                b.escalated_to_tier.as_deref(),
            );
            if to_inbox(tx, event, supervisor, self.locale, msg).await? {
                tracing::info!(ticket_id = %b.timer.ticket_id, supervisor_id = %supervisor, "breach delivered to the supervisor");
            }
            Ok(())
        })
    }
}
