//! What routing consumes and publishes.

use chrono::Utc;
use contracts::RawEnvelope;
use contracts::intake::TicketCreatedV1;
use contracts::routing::TicketQueuedV1;
use futures_util::future::BoxFuture;
use platform::Tx;
use platform::bus::consumer::{ConsumerSpec, EventHandler, HandlerError};
use platform::bus::outbox::Outbox;

use crate::RoutingSettings;
use crate::domain::queue;
use crate::live::LiveQueues;
use crate::store::{self, QueueEntryRow};

/// `intake.ticket.created` → the ticket waits in a live queue; `routing.ticket.queued`.
pub struct TicketCreated {
    pub outbox: Outbox,
    pub live: LiveQueues,
    pub policy: RoutingSettings,
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
            let enqueued_at = Utc::now();
            let entry = QueueEntryRow {
                ticket_id: created.ticket_id,
                customer_id: created.customer_id,
                queue: queue::queue_for(created.category.as_deref(), &self.policy),
                channel: created.channel.as_str().to_owned(),
                priority: created.priority.as_str().to_owned(),
                category: created.category.clone(),
                status: "waiting".to_owned(),
                score: queue::score(enqueued_at, created.priority, &self.policy),
                enqueued_at,
            };
            let Some(entry) = store::insert_entry(tx, &entry).await? else {
                return Ok(());
            };
            self.outbox
                .stage(
                    tx,
                    TicketQueuedV1 {
                        ticket_id: entry.ticket_id,
                        customer_id: entry.customer_id,
                        queue: entry.queue.clone(),
                        channel: created.channel,
                        priority: created.priority,
                        queued_at: entry.enqueued_at,
                    },
                )
                .await?;
            // Idempotent (ZADD NX); were the transaction to fail after this, the retry adds the
            // same member again, and a rebuild from queue_entry corrects any leftover.
            self.live.enqueue(&entry.queue, entry.ticket_id, entry.score).await?;
            tracing::info!(ticket_id = %entry.ticket_id, queue = %entry.queue, "ticket queued");
            Ok(())
        })
    }
}
