//! Notifications' use cases: the catalog of rules, templates and endpoints; the fan-out of
//! events into deliveries; the delivery pipeline; the retention of the delivery log.

pub mod catalog;
pub mod dispatch;
pub mod fanout;
pub mod retention;
mod send;
