//! Intake's rules, free of I/O.

pub mod classify;
pub mod ticket;
