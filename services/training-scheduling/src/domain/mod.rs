//! Scheduling rules, free of I/O.

pub mod session;
