//! Every SQL statement of the refund service.
#![allow(clippy::disallowed_methods)]

pub mod refunds;

pub use refunds::{RefundRow, insert_refund, refund};
