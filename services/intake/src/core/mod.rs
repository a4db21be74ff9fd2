//! Intake's use cases: opening a ticket, the lifecycle, incidents, the knowledge-base index that
//! answers new tickets, the quality report, survey links and refund requests followed on their
//! tickets.

pub mod articles;
pub mod inbound;
pub mod incidents;
pub mod kb_index;
pub mod lifecycle;
pub mod open;
pub mod refunds;
pub mod reports;
pub mod surveys;
pub mod thread;
