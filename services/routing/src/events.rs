//! What routing consumes and publishes.

use chrono::Utc;
use contracts::RawEnvelope;
use contracts::intake::{TicketCreatedV1, TicketStatusChangedV1};
use contracts::routing::TicketQueuedV1;
use contracts::vocabulary::{Channel, Priority};
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
            // Answered from the knowledge base: known, but held until the customer says it
            // did not help.
            let held = created.details.status.as_deref() == Some("auto_answered");
            let entry = QueueEntryRow {
                ticket_id: created.ticket_id,
                customer_id: created.customer_id,
                queue: queue::queue_for(created.category.as_deref(), created.details.high_emotion, &self.policy),
                channel: created.channel.as_str().to_owned(),
                priority: created.priority.as_str().to_owned(),
                category: created.category.clone(),
                status: if held { "held" } else { "waiting" }.to_owned(),
                score: queue::score(enqueued_at, created.priority, &self.policy),
                enqueued_at,
                high_emotion: created.details.high_emotion,
            };
            let Some(entry) = store::insert_entry(tx, &entry).await? else {
                return Ok(());
            };
            if held {
                tracing::info!(ticket_id = %entry.ticket_id, "ticket held: answered from the knowledge base");
                return Ok(());
            }
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

/// `intake.ticket.status_changed` → a ticket handed to people (not solved by its automatic
/// answer, reopened) waits again; one that is assigned, resolved or cancelled leaves its queue.
pub struct TicketStatusChanged {
    pub outbox: Outbox,
    pub live: LiveQueues,
    pub policy: RoutingSettings,
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
            match changed.to.as_str() {
                "queued" => {
                    let now = Utc::now();
                    let Some(before) = store::entry_for_update(tx, id).await? else {
                        tracing::warn!(ticket_id = %id, "re-queued ticket routing never saw; ignored");
                        return Ok(());
                    };
                    let priority = Priority::parse(&before.priority).unwrap_or(Priority::Normal);
                    let score = queue::score(now, priority, &self.policy);
                    if store::set_status(tx, id, "waiting", Some((score, now)))
                        .await?
                        .is_none()
                    {
                        return Ok(());
                    }
                    self.outbox
                        .stage(
                            tx,
                            TicketQueuedV1 {
                                ticket_id: id,
                                customer_id: before.customer_id,
                                queue: before.queue.clone(),
                                channel: Channel::parse(&before.channel).unwrap_or(Channel::Api),
                                priority,
                                queued_at: now,
                            },
                        )
                        .await?;
                    self.live.enqueue(&before.queue, id, score).await?;
                    tracing::info!(ticket_id = %id, queue = %before.queue, "ticket queued again");
                }
                to @ ("assigned" | "in_progress" | "resolved" | "closed" | "cancelled") => {
                    let status = if matches!(to, "assigned" | "in_progress") {
                        "assigned"
                    } else {
                        "closed"
                    };
                    if let Some(before) = store::set_status(tx, id, status, None).await? {
                        self.live.remove(&before.queue, id).await?;
                    }
                }
                _ => {}
            }
            Ok(())
        })
    }
}
