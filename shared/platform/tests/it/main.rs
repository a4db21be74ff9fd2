//! Platform integration tests against real PostgreSQL, Redis and RabbitMQ.

mod bus;
mod helpers;
mod http;
mod jobs;
mod kv;
mod outage;
mod resilience;
mod runtime_role;
