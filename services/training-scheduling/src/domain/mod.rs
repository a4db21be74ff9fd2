//! Scheduling rules, free of I/O: what a valid class or training is, how its recurrence rule
//! expands in its time zone, who may take a seat, and the iCalendar feed (with the time-zone
//! definitions it needs).

pub mod calendar;
pub mod offering;
pub mod recurrence;
pub mod registration;
pub mod zone;
