pub mod agent;
pub mod entry;
pub mod erlang;
pub mod matching;
pub mod queue;
pub mod sla;
