//! Refund's use cases.

pub mod refunds;
