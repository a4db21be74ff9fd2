//! Every SQL statement of the training-scheduling service.
#![allow(clippy::disallowed_methods)]

pub mod sessions;

pub use sessions::{SessionRow, insert_session, session, upcoming};
