//! Every SQL statement of the training-scheduling service, one file per aggregate. Time rules
//! take "now" as a parameter from the service's clock; nothing here calls `now()`.
#![allow(clippy::disallowed_methods)]

pub mod enrolments;
pub mod feeds;
pub mod offerings;
pub mod registrations;
pub mod sessions;
