//! The kernel every edu-support service stands on.
//!
//! - [`config`]: layered settings with key-naming errors.
//! - [`telemetry`]: tracing, OpenTelemetry export, W3C trace-context propagation.
//! - [`http`], [`error`], [`auth`]: the HTTP bootstrap, problem+json errors, JWT callers;
//!   [`access`]: who may call what, declared per route in OpenAPI; [`admin`]: the kernel's routes.
//! - [`db`]: the pool and migrations; [`kv`]: Redis.
//! - [`bus`]: topology, transactional outbox, idempotent consumers with retry and parking.
//! - [`jobs`]: durable scheduled jobs; [`idempotency`]: `Idempotency-Key`.
//! - [`app`], [`platform`], [`cli`]: running a service, the connections it shares, its command
//!   line.
//! - [`clock`]: the one source of "now" (system, or manual in tests and simulations).
//! - [`cache`]: in-memory copies reloaded on change; [`batch`]: group commit.
//! - [`problems`]: the problem responses routes declare in OpenAPI; [`pagination`]: cursors.
//! - [`metrics`]: the Prometheus registry; [`health`]: readiness and task supervision;
//!   [`housekeeping`]: purging old kernel rows.

pub mod access;
pub mod admin;
pub mod app;
pub mod auth;
pub mod batch;
pub mod bus;
pub mod cache;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod health;
pub mod housekeeping;
pub mod http;
pub mod idempotency;
pub mod jobs;
pub mod kv;
pub mod metrics;
pub mod pagination;
pub mod platform;
pub mod problems;
pub mod telemetry;

pub use app::{Application, ServiceSpec, Task};
pub use clock::Clock;
pub use config::Settings;
pub use db::Tx;
pub use error::ApiError;
pub use platform::Platform;
