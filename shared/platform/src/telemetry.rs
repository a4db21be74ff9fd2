//! Logs and traces: `tracing` everywhere, JSON or pretty logs, OpenTelemetry spans exported over
//! OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and W3C trace-context propagation.
//!
//! Spans always carry OpenTelemetry trace ids, exported or not, so a trace id can be recorded
//! and followed through the broker even on a machine with no collector.

use std::collections::HashMap;

use opentelemetry::propagation::{Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::TelemetrySettings;

/// Keeps the tracer provider alive; flushes pending spans when dropped.
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("telemetry shutdown: {e}");
        }
    }
}

/// Installs the global subscriber and propagator. Call once, early in `main`.
pub fn init(service: &str, settings: &TelemetrySettings) -> anyhow::Result<TelemetryGuard> {
    let service_name = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| service.to_owned());
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service_name)
        .build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").is_ok_and(|v| !v.is_empty()) {
        let exporter = opentelemetry_otlp::SpanExporter::builder().with_http().build()?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    let tracer = provider.tracer(service.to_owned());
    opentelemetry::global::set_tracer_provider(provider.clone());
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    let filter = EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new(&settings.level))?;
    let fmt_layer = if settings.log_format == "pretty" {
        tracing_subscriber::fmt::layer().with_target(false).boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .boxed()
    };
    // The log filter applies to the log output only: spans stay enabled for tracing, so trace
    // context is carried through a service whatever its log level.
    tracing_subscriber::registry()
        .with(fmt_layer.with_filter(filter))
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(LevelFilter::INFO),
        )
        .try_init()?;
    Ok(TelemetryGuard { provider })
}

/// Installs a tracer (no exporter) and the propagator for tests, once per process, so spans
/// carry trace ids exactly as in a running service.
pub fn init_for_tests() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let provider = SdkTracerProvider::builder().build();
        let tracer = provider.tracer("test");
        opentelemetry::global::set_tracer_provider(provider);
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
        let _ = tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().with_test_writer().with_filter(filter))
            .with(
                tracing_opentelemetry::layer()
                    .with_tracer(tracer)
                    .with_filter(LevelFilter::INFO),
            )
            .try_init();
    });
}

/// The W3C trace-context headers (`traceparent`, `tracestate`) of a span.
pub fn trace_headers(span: &tracing::Span) -> HashMap<String, String> {
    let mut headers = HashMap::new();
    TraceContextPropagator::new().inject_context(&span.context(), &mut MapInjector(&mut headers));
    headers
}

/// The `traceparent` of the current span, if it has a valid trace context.
pub fn current_traceparent() -> Option<String> {
    trace_headers(&tracing::Span::current()).remove("traceparent")
}

/// The hex trace id of the current span, if it has a valid trace context.
pub fn current_trace_id() -> Option<String> {
    let cx = tracing::Span::current().context();
    let span_ref = cx.span();
    let sc = span_ref.span_context();
    sc.is_valid().then(|| sc.trace_id().to_string())
}

/// Makes the remote context described by `get` (header lookup) the parent of `span`.
pub fn set_remote_parent<'a>(span: &tracing::Span, get: impl Fn(&str) -> Option<&'a str>) {
    let carrier: HashMap<String, String> = ["traceparent", "tracestate"]
        .into_iter()
        .filter_map(|k| get(k).map(|v| (k.to_owned(), v.to_owned())))
        .collect();
    let cx = TraceContextPropagator::new().extract(&carrier);
    if cx.span().span_context().is_valid() {
        // Fails only when the span is disabled, in which case there is nothing to parent.
        let _ = span.set_parent(cx);
    }
}

/// The trace id inside a `traceparent` value.
pub fn trace_id_of(traceparent: &str) -> Option<&str> {
    let mut parts = traceparent.split('-');
    let (_version, trace_id) = (parts.next()?, parts.next()?);
    (trace_id.len() == 32).then_some(trace_id)
}

struct MapInjector<'a>(&'a mut HashMap<String, String>);

impl Injector for MapInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remote_parent_carries_its_trace_id_into_local_spans() {
        init_for_tests();
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let span = tracing::info_span!("handle");
        set_remote_parent(&span, |k| (k == "traceparent").then_some(incoming));
        let _enter = span.enter();
        assert_eq!(current_trace_id().as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        let out = current_traceparent().expect("traceparent");
        assert_eq!(trace_id_of(&out), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        assert!(!out.contains("00f067aa0ba902b7"), "a new span id is sent on");
    }

    #[test]
    fn a_root_span_gets_a_fresh_trace() {
        init_for_tests();
        let span = tracing::info_span!("root");
        let _enter = span.enter();
        let id = current_trace_id().expect("trace id");
        assert_eq!(id.len(), 32);
    }

    #[test]
    fn garbage_traceparent_is_ignored() {
        init_for_tests();
        let span = tracing::info_span!("handle");
        set_remote_parent(&span, |k| (k == "traceparent").then_some("not-a-trace"));
        let _enter = span.enter();
        assert!(current_trace_id().is_some());
        assert_eq!(trace_id_of("garbage"), None);
    }
}
