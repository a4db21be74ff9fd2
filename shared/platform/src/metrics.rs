//! Prometheus metrics: HTTP, bus, outbox and jobs. One registry per running service.

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};

pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub http_errors: IntCounterVec,
    pub bus_published: IntCounterVec,
    pub bus_consumed: IntCounterVec,
    pub bus_handle_duration: HistogramVec,
    pub bus_consumer_paused: IntCounterVec,
    pub outbox_relayed: IntCounterVec,
    pub jobs_run: IntCounterVec,
    pub task_restarts: IntCounterVec,
}

impl Metrics {
    pub fn new(service: &str) -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(
            None,
            Some([("service".to_owned(), service.to_owned())].into_iter().collect()),
        )?;
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by method, route and status"),
            &["method", "route", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route"],
        )?;
        let http_errors = IntCounterVec::new(
            Opts::new("http_errors_total", "HTTP responses with a 4xx or 5xx status, by route"),
            &["route", "status"],
        )?;
        let bus_published = IntCounterVec::new(
            Opts::new("bus_published_total", "Events published to the broker, by type"),
            &["event_type"],
        )?;
        let bus_consumed = IntCounterVec::new(
            Opts::new(
                "bus_consumed_total",
                "Messages consumed, by queue and outcome (handled, duplicate, retried, parked)",
            ),
            &["queue", "outcome"],
        )?;
        let bus_handle_duration = HistogramVec::new(
            HistogramOpts::new("bus_handle_duration_seconds", "Time to handle one message")
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0]),
            &["queue"],
        )?;
        let outbox_relayed = IntCounterVec::new(
            Opts::new(
                "outbox_relayed_total",
                "Outbox rows relayed, by outcome (published, failed)",
            ),
            &["outcome"],
        )?;
        let jobs_run = IntCounterVec::new(
            Opts::new(
                "jobs_run_total",
                "Scheduled jobs run, by kind and outcome (done, retry, failed)",
            ),
            &["kind", "outcome"],
        )?;
        let bus_consumer_paused = IntCounterVec::new(
            Opts::new(
                "bus_consumer_pauses_total",
                "Times a consuming loop paused because a dependency (postgres, redis) did not answer",
            ),
            &["queue", "dependency"],
        )?;
        let task_restarts = IntCounterVec::new(
            Opts::new(
                "task_restarts_total",
                "Background tasks (relay, job runner, consumer loops, service tasks) restarted after a panic",
            ),
            &["task"],
        )?;
        for c in [
            &bus_consumer_paused,
            &task_restarts,
            &http_requests,
            &http_errors,
            &bus_published,
            &bus_consumed,
            &outbox_relayed,
            &jobs_run,
        ] {
            registry.register(Box::new(c.clone()))?;
        }
        for h in [&http_duration, &bus_handle_duration] {
            registry.register(Box::new(h.clone()))?;
        }
        Ok(Self {
            registry,
            http_requests,
            http_duration,
            http_errors,
            bus_published,
            bus_consumed,
            bus_handle_duration,
            bus_consumer_paused,
            outbox_relayed,
            jobs_run,
            task_restarts,
        })
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::warn!(error = %e, "metrics encoding failed");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}
