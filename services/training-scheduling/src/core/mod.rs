//! Training-scheduling's use cases.

pub mod sessions;
