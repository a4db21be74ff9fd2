//! Every SQL statement of routing: queue entries and their log, assignments, agents, queue
//! definitions and service-level clocks.
#![allow(clippy::disallowed_methods)]

pub mod agents;
pub mod assignments;
pub mod entries;
pub mod log;
pub mod queues;
pub mod sla;
