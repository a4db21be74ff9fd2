//! Every SQL statement of the refund service, one file per table.
#![allow(clippy::disallowed_methods)]

pub mod audit;
pub mod enrolments;
pub mod policies;
pub mod reports;
pub mod requests;
