//! The HTTP bootstrap every service shares: request spans with W3C trace-context, metrics,
//! `/healthz`, `/readyz`, `/metrics`, `/openapi.json`, `/docs`, problem+json for every error
//! (including malformed bodies, paths and queries, and unknown routes), body limits, CORS and
//! graceful shutdown.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_cors::Cors;
use actix_web::dev::{Server, Service, ServiceResponse};
use actix_web::error::{InternalError, JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::{StatusCode, header};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, ResponseError, web};
use futures_util::FutureExt;
use serde_json::json;
use tracing::Instrument;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_swagger_ui::SwaggerUi;

use crate::access::{AccessTable, complete_responses};
use crate::admin::{self, Consumers};
use crate::bus::topology::ConsumerQueues;
use crate::config::HttpSettings;
use crate::error::ApiError;
use crate::health::Dependency;
use crate::platform::Platform;

/// A service's routes and their OpenAPI description.
#[derive(Clone)]
pub struct Api {
    pub openapi: OpenApi,
    pub configure: Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>,
    /// What the service cannot serve without, besides Postgres (always): readiness fails when
    /// one of them is away. The others are reported as degraded.
    pub requires: Vec<Dependency>,
}

impl Api {
    pub fn new(openapi: OpenApi, configure: impl Fn(&mut web::ServiceConfig) + Send + Sync + 'static) -> Self {
        Self {
            openapi,
            configure: Arc::new(configure),
            requires: Vec::new(),
        }
    }

    /// Readiness also fails while `dependencies` are away (a service whose every route needs
    /// Redis, say).
    pub fn requiring(mut self, dependencies: &[Dependency]) -> Self {
        self.requires.extend_from_slice(dependencies);
        self
    }
}

/// The dependencies readiness fails without.
#[derive(Clone)]
struct Required(Vec<Dependency>);

/// Binds the listener and builds the server (not yet running). Returns it with its port.
pub fn serve(
    platform: &Platform,
    settings: &HttpSettings,
    api: Api,
    consumers: Vec<(String, ConsumerQueues)>,
) -> anyhow::Result<(Server, u16)> {
    let consumers = web::Data::new(Consumers(consumers));
    let mut required = vec![Dependency::Postgres];
    required.extend(api.requires.iter().copied());
    let required = web::Data::new(Required(required));
    let listener = TcpListener::bind((settings.host.as_str(), settings.port))
        .map_err(|e| anyhow::anyhow!("cannot listen on {}:{}: {e}", settings.host, settings.port))?;
    let port = listener.local_addr()?.port();
    let openapi = document(api.openapi.clone())?;
    let access = web::Data::new(AccessTable::from_openapi(&serde_json::to_value(&openapi)?)?);
    let platform_data = web::Data::new(platform.clone());
    let verifier = platform.jwt.clone();
    let body_limit = settings.body_limit_bytes;
    let origins = settings.cors_allowed_origins.clone();
    let configure = api.configure.clone();
    let mut server = HttpServer::new(move || {
        let metrics = platform_data.metrics.clone();
        App::new()
            .app_data(platform_data.clone())
            .app_data(verifier.clone())
            .app_data(consumers.clone())
            .app_data(required.clone())
            .app_data(web::JsonConfig::default().limit(body_limit).error_handler(json_error))
            .app_data(web::PayloadConfig::default().limit(body_limit))
            .app_data(web::PathConfig::default().error_handler(path_error))
            .app_data(web::QueryConfig::default().error_handler(query_error))
            .wrap_fn({
                let access = access.clone();
                move |req, srv| match access.check(&req) {
                    Ok(()) => srv.call(req),
                    Err(e) => {
                        let res = req.into_response(e.error_response());
                        Box::pin(async move { Ok(res) })
                    }
                }
            })
            .wrap(cors(&origins))
            .wrap_fn(move |req, srv| {
                let route = req.match_pattern().unwrap_or_else(|| "unmatched".to_owned());
                let method = method_label(req.method());
                let span = tracing::info_span!(
                    "http.request",
                    otel.kind = "server",
                    otel.name = %format!("{method} {route}"),
                    http.request.method = %method,
                    http.route = %route,
                    url.path = %req.path(),
                    http.response.status_code = tracing::field::Empty,
                );
                crate::telemetry::set_remote_parent(&span, |k| req.headers().get(k).and_then(|v| v.to_str().ok()));
                let started = Instant::now();
                let metrics = metrics.clone();
                let fut = {
                    let _entered = span.enter();
                    srv.call(req)
                };
                async move {
                    let res = fut.await;
                    let status = match &res {
                        Ok(r) => r.status(),
                        Err(e) => e.as_response_error().status_code(),
                    };
                    tracing::Span::current().record("http.response.status_code", status.as_u16());
                    let code = status.as_str();
                    metrics
                        .http_requests
                        .with_label_values(&[method, route.as_str(), code])
                        .inc();
                    metrics
                        .http_duration
                        .with_label_values(&[method, route.as_str()])
                        .observe(started.elapsed().as_secs_f64());
                    if status.is_client_error() || status.is_server_error() {
                        metrics.http_errors.with_label_values(&[&route, code]).inc();
                    }
                    res.map(|mut r: ServiceResponse<_>| {
                        if let Some(id) = crate::telemetry::current_trace_id()
                            && let Ok(v) = header::HeaderValue::from_str(&id)
                        {
                            r.headers_mut().insert(header::HeaderName::from_static("x-trace-id"), v);
                        }
                        r
                    })
                }
                .instrument(span)
                .boxed_local()
            })
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz))
            .route("/metrics", web::get().to(metrics_text))
            // `/openapi.json`, and the API reference at `/docs/` (Swagger UI, its assets served
            // from the binary).
            .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", openapi.clone()))
            .route(
                "/docs",
                web::get().to(|| async {
                    HttpResponse::Found()
                        .insert_header((header::LOCATION, "/docs/"))
                        .finish()
                }),
            )
            .configure(admin::configure)
            .configure(|cfg| configure(cfg))
            .default_service(web::to(not_found))
    })
    .disable_signals()
    .shutdown_timeout(settings.shutdown_timeout_secs)
    .listen(listener)?;
    if settings.workers > 0 {
        server = server.workers(settings.workers);
    }
    Ok((server.run(), port))
}

fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .allowed_header("idempotency-key")
        .allowed_header("traceparent")
        .expose_headers(["x-trace-id", "retry-after"])
        .max_age(3600);
    for origin in origins {
        cors = if origin == "*" {
            cors.allow_any_origin()
        } else {
            cors.allowed_origin(origin)
        };
    }
    cors
}

/// The method as a metric and span label: one of the standard methods, or `other`, so made-up
/// methods cannot grow the metrics without bound.
fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The document a service serves: its own, with the kernel's admin routes, the problem schema,
/// the bearer scheme and, on each operation, the statuses the kernel answers with.
pub fn document(openapi: OpenApi) -> anyhow::Result<OpenApi> {
    let mut value = serde_json::to_value(with_platform_components(
        openapi.merge_from(<admin::AdminApi as utoipa::OpenApi>::openapi()),
    ))?;
    complete_responses(&mut value);
    // A tag the service and the kernel both name (`admin`) is listed once.
    if let Some(tags) = value.get_mut("tags").and_then(serde_json::Value::as_array_mut) {
        let mut seen = std::collections::HashSet::new();
        tags.retain(|t| seen.insert(t["name"].as_str().unwrap_or_default().to_owned()));
    }
    Ok(serde_json::from_value(value)?)
}

fn with_platform_components(mut openapi: OpenApi) -> OpenApi {
    let components = openapi.components.get_or_insert_with(Default::default);
    // The problem body every error response refers to (see `problems`).
    let mut schemas = vec![(
        <crate::error::Problem as utoipa::ToSchema>::name().into_owned(),
        <crate::error::Problem as utoipa::PartialSchema>::schema(),
    )];
    <crate::error::Problem as utoipa::ToSchema>::schemas(&mut schemas);
    for (name, schema) in schemas {
        components.schemas.entry(name).or_insert(schema);
    }
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    openapi
}

fn problem_response(err: impl std::fmt::Debug + std::fmt::Display + 'static, api: ApiError) -> actix_web::Error {
    InternalError::from_response(err, api.error_response()).into()
}

fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api = match &err {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "Payload too large",
            err.to_string(),
        ),
        JsonPayloadError::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Unsupported media type",
            "the body must be application/json",
        ),
        JsonPayloadError::Deserialize(e) if e.is_data() => ApiError::unprocessable("invalid_body", e.to_string()),
        JsonPayloadError::Deserialize(e) => ApiError::bad_request("malformed_json", e.to_string()),
        other => ApiError::bad_request("invalid_body", other.to_string()),
    };
    problem_response(err, api)
}

fn path_error(err: PathError, _req: &HttpRequest) -> actix_web::Error {
    let api = ApiError::bad_request("invalid_path", err.to_string());
    problem_response(err, api)
}

fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api = ApiError::bad_request("invalid_query", err.to_string());
    problem_response(err, api)
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "route_not_found",
        "Not found",
        format!("no route for {} {}", req.method(), req.path()),
    )
    .error_response()
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready when the service can serve: Postgres (and what the service declared it requires)
/// answers and no background task keeps failing. A dependency it can do without for a while
/// (the broker: events wait in the outbox; Redis, for most services) is reported as degraded
/// in the body without failing readiness, so a broker restart does not take every pod out of
/// its Service.
async fn readyz(platform: web::Data<Platform>, required: web::Data<Required>) -> HttpResponse {
    let timeout = Duration::from_secs(2);
    let (db, redis, bus) = tokio::join!(
        async {
            tokio::time::timeout(timeout, sqlx::query("SELECT 1").execute(&platform.pool))
                .await
                .map_err(|_| "timed out".to_owned())
                .and_then(|r| r.map(|_| ()).map_err(|e| e.to_string()))
        },
        async {
            tokio::time::timeout(timeout, platform.redis.ping())
                .await
                .map_err(|_| "timed out".to_owned())
                .and_then(|r| r.map_err(|e| e.to_string()))
        },
        async {
            if platform.bus.is_connected().await {
                Ok(())
            } else {
                match tokio::time::timeout(timeout, platform.bus.connection()).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("timed out".to_owned()),
                }
            }
        },
    );
    let mut ready = true;
    let mut degraded = false;
    let mut checks = serde_json::Map::new();
    for (dependency, result) in [
        (Dependency::Postgres, db),
        (Dependency::Redis, redis),
        (Dependency::Broker, bus),
    ] {
        let is_required = required.0.contains(&dependency);
        let check = match result {
            Ok(()) => json!({"status": "ok", "required": is_required}),
            Err(e) => {
                if is_required {
                    ready = false;
                } else {
                    degraded = true;
                }
                json!({"status": "failing", "required": is_required, "error": e})
            }
        };
        checks.insert(dependency.as_str().to_owned(), check);
    }
    let failing_tasks = platform.health.failing();
    if !failing_tasks.is_empty() {
        ready = false;
    }
    let status = match (ready, degraded) {
        (false, _) => "not_ready",
        (true, true) => "degraded",
        (true, false) => "ready",
    };
    let body = json!({"status": status, "checks": checks, "failing_tasks": failing_tasks});
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

async fn metrics_text(platform: web::Data<Platform>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(platform.metrics.render())
}
