//! System tests: the five services as separate processes, driven over HTTP only.

mod walking_skeleton;
