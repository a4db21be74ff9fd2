//! What intake consumes: routing's assignments.

use contracts::RawEnvelope;
use contracts::routing::TicketAssignedV1;
use futures_util::future::BoxFuture;
use platform::Tx;
use platform::bus::consumer::{ConsumerSpec, EventHandler, HandlerError};

use crate::core::lifecycle::Lifecycle;

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
