//! Intake's rules, free of I/O.

pub mod classify;
pub mod lifecycle;
pub mod ticket;
