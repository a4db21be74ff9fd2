//! Outbound systems other than routing's own Postgres and the bus: the live state in Redis.

pub mod live;
