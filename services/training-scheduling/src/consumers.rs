//! What training-scheduling consumes: refund's class transfers.

use contracts::RawEnvelope;
use contracts::refund::ClassTransferredV1;
use futures_util::future::BoxFuture;
use platform::Tx;
use platform::bus::consumer::{ConsumerSpec, EventHandler, HandlerError};

use crate::core::Scheduling;
use crate::core::enrolments::UnknownClass;

/// `refund.class_transferred` → the student and their seat move to the new class, and
/// `training.enrolment.transferred` tells the student and their guardians. The kernel records
/// the event id in the same transaction, so a redelivered event changes nothing; a transfer to
/// a class this service does not know is parked for an operator.
pub struct ClassTransferred {
    pub scheduling: Scheduling,
}

impl ClassTransferred {
    pub fn spec() -> ConsumerSpec {
        ConsumerSpec::new(
            "refund-class-transferred",
            &[<ClassTransferredV1 as contracts::Event>::TYPE],
        )
    }
}

impl EventHandler for ClassTransferred {
    fn handle<'a>(&'a self, tx: &'a mut Tx, event: &'a RawEnvelope) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let t = event.decode::<ClassTransferredV1>()?.data;
            match self.scheduling.transfer(tx, &t).await {
                Ok(_) => Ok(()),
                Err(e) if e.is::<UnknownClass>() => Err(HandlerError::Reject(e)),
                Err(e) => Err(HandlerError::classify(e)),
            }
        })
    }
}
