//! Refund rules, free of I/O.

pub mod enrolment;
pub mod policy;
pub mod request;
pub mod workflow;
