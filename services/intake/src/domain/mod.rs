//! Intake's rules, free of I/O.

pub mod classify;
pub mod customer;
pub mod kb;
pub mod lifecycle;
pub mod ticket;
