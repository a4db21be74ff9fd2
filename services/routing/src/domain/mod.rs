//! Routing's rules, free of I/O.

pub mod queue;
