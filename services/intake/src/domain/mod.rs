//! Intake's rules, free of I/O.

pub mod ticket;
