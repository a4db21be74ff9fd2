//! Intake's outbound systems besides its own Postgres and the bus: Redis, for the rate limit on
//! creating tickets.

pub mod rate_limit;
