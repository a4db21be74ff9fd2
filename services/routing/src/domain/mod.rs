//! Routing's rules, free of I/O.

pub mod agent;
pub mod queue;
