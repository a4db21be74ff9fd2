//! Refund rules, free of I/O.

pub mod refund;
