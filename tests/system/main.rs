//! System tests: the five services as separate processes, driven over HTTP only.

mod clock_flows;
mod intake_flows;
mod notification_flows;
mod refund_flows;
mod routing_flows;
mod walking_skeleton;
