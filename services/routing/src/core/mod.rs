//! Routing's use cases: admission, dispatch, claims, offers, moves and the rebuild
//! ([`router`]), service-level clocks ([`sla`]), the in-memory catalog of queues, agents and
//! policies ([`catalog`]), the replica's copy of the queues' heads for pulls ([`pull_view`]) and
//! agents' profiles ([`agents`]).

pub mod agents;
pub mod catalog;
pub mod pull_view;
pub mod router;
pub mod sla;
