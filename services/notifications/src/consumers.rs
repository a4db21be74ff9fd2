//! The bus entry point: every consumed event goes to the fan-out in the consumer's
//! transaction, and idle dispatchers are woken once it commits.

use contracts::RawEnvelope;
use futures_util::future::BoxFuture;
use platform::Tx;
use platform::bus::consumer::{ConsumerSpec, EventHandler, HandlerError};

use crate::core::dispatch::Waker;
use crate::core::fanout::Fanout;

/// Consumes the events named by `service.event_patterns`.
pub struct Notifier {
    pub fanout: Fanout,
    pub wake: Waker,
}

impl Notifier {
    pub fn spec(patterns: &[&str]) -> ConsumerSpec {
        ConsumerSpec::new("notify", patterns)
    }
}

impl EventHandler for Notifier {
    fn handle<'a>(&'a self, tx: &'a mut Tx, event: &'a RawEnvelope) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move { self.fanout.notify(tx, &[(event, tracing::Span::current())]).await })
    }

    fn handle_batch<'a>(
        &'a self,
        tx: &'a mut Tx,
        events: &'a [(&'a RawEnvelope, tracing::Span)],
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(self.fanout.notify(tx, events))
    }

    fn committed(&self, _event: &RawEnvelope) {
        self.wake.wake();
    }
}
