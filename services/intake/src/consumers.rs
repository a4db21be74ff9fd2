//! What intake consumes: routing's assignments, and refund's request events.

use contracts::RawEnvelope;
use contracts::refund::RefundRequestV1;
use contracts::routing::TicketAssignedV1;
use futures_util::future::BoxFuture;
use platform::Tx;
use platform::bus::consumer::{ConsumerSpec, EventHandler, HandlerError};

use crate::core::lifecycle::Lifecycle;
use crate::domain::refund::Step;

/// `routing.ticket.assigned` → the ticket is assigned to the agent (a queued ticket moves to
/// `assigned`; one already being worked on changes hands). A ticket that moved on meanwhile
/// (resolved, cancelled) is left as it is. Routing's events arrive in any order: the last
/// `subjectseq` applied is kept per ticket (`ticket.routing_seq`) and an older assignment is
/// skipped.
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
            let seq = event.subjectseq;
            let a = event.decode::<TicketAssignedV1>()?.data;
            self.lifecycle.take_assignment(tx, a.ticket_id, a.agent_id, seq).await?;
            Ok(())
        })
    }
}

/// `refund.request.*` (submitted, quoted, approved, rejected, cancelled, and later steps, all
/// carrying the request as `RefundRequestV1`) → a request filed from a ticket is followed on it:
/// an internal note per step, and the ticket resolved when the request ends (see
/// `core::refunds`). Events of another major version of the payload are not this consumer's
/// and are acknowledged untouched; a payload that does not decode is parked.
pub struct RefundRequests {
    pub lifecycle: Lifecycle,
}

impl RefundRequests {
    pub fn spec() -> ConsumerSpec {
        ConsumerSpec::new("refund-requests", &["refund.request.*"])
    }
}

impl EventHandler for RefundRequests {
    fn handle<'a>(&'a self, tx: &'a mut Tx, event: &'a RawEnvelope) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let Some(step) = Step::of(&event.event_type) else {
                return Ok(());
            };
            // Every request event is the request after its step (`RefundApprovedV1` and the
            // others wrap `RefundRequestV1`, as later steps' will): its v1 data schema.
            let v1 = format!("urn:edu-support:{}:v1", event.event_type);
            if event.dataschema != v1 {
                tracing::debug!(event_type = %event.event_type, dataschema = %event.dataschema,
                    "refund request event of another version; not this consumer's");
                return Ok(());
            }
            let request: RefundRequestV1 =
                serde_json::from_value(event.data.clone()).map_err(|e| HandlerError::Reject(e.into()))?;
            self.lifecycle.follow_refund(tx, event, step, &request).await?;
            Ok(())
        })
    }
}
