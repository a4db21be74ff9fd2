//! The kernel's own admin routes, in every service and in its OpenAPI document: the clock
//! (`/v1/admin/clock`) and the parking queues of its consumers (`/v1/admin/parking`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::bus::parking;
use crate::bus::topology::ConsumerQueues;
use crate::clock::{Clock, ClockError, ClockMode};
use crate::error::ApiError;
use crate::platform::Platform;
use crate::problems::{Conflict, NotFound};

/// This service's consumers and their queues, by name.
pub struct Consumers(pub Vec<(String, ConsumerQueues)>);

impl Consumers {
    fn find(&self, name: &str) -> Result<&ConsumerQueues, ApiError> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, q)| q)
            .ok_or_else(|| ApiError::not_found("consumer"))
    }
}

#[derive(OpenApi)]
#[openapi(
    paths(read_clock, move_clock, list_parked, replay_parked),
    tags((name = "admin", description = "The kernel's admin routes: the clock and parked messages."))
)]
pub struct AdminApi;

/// The routes, for the HTTP bootstrap.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/admin/clock", web::get().to(read_clock))
        .route("/v1/admin/clock", web::post().to(move_clock))
        .route("/v1/admin/parking", web::get().to(list_parked))
        .route("/v1/admin/parking/{consumer}/replay", web::post().to(replay_parked));
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ParkedQueue {
    pub consumer: String,
    pub queue: String,
    pub parking_queue: String,
    /// Messages waiting in the parking queue.
    pub parked: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ParkedList {
    pub items: Vec<ParkedQueue>,
}

/// Messages waiting in each consumer's parking queue.
#[utoipa::path(get, path = "/v1/admin/parking", tag = "admin", operation_id = "admin_list_parked",
    security(("bearer" = ["admin"])),
    responses((status = 200, body = ParkedList)))]
async fn list_parked(
    platform: web::Data<Platform>,
    consumers: web::Data<Consumers>,
) -> Result<web::Json<ParkedList>, ApiError> {
    let mut items = Vec::new();
    for (name, queues) in &consumers.0 {
        items.push(ParkedQueue {
            consumer: name.clone(),
            queue: queues.main.clone(),
            parking_queue: queues.parking.clone(),
            parked: parking::parked(&platform.bus, queues).await.map_err(broker_away)?,
        });
    }
    Ok(web::Json(ParkedList { items }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ReplayQuery {
    /// How many to move back (default 100, 1 to 10000).
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Replayed {
    pub consumer: String,
    pub replayed: u32,
}

/// Moves up to `limit` parked messages back to be handled again.
#[utoipa::path(post, path = "/v1/admin/parking/{consumer}/replay", tag = "admin",
    operation_id = "admin_replay_parked",
    params(("consumer" = String, Path, description = "The consumer's name"), ReplayQuery),
    security(("bearer" = ["admin"])),
    responses((status = 200, body = Replayed), NotFound))]
async fn replay_parked(
    platform: web::Data<Platform>,
    consumers: web::Data<Consumers>,
    path: web::Path<String>,
    query: web::Query<ReplayQuery>,
) -> Result<web::Json<Replayed>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::field("limit", "must be 1 to 10000"));
    }
    let queues = consumers.find(&path)?;
    let replayed = parking::replay(&platform.bus, queues, limit)
        .await
        .map_err(broker_away)?;
    Ok(web::Json(Replayed {
        consumer: path.into_inner(),
        replayed,
    }))
}

/// The broker not answering: worth retrying.
fn broker_away(e: anyhow::Error) -> ApiError {
    tracing::warn!(error = %e, "the broker is not available for a parking request");
    ApiError::unavailable("the message broker is not available right now; try again")
}

/// How to move a manual clock: forward by `advance_secs`, or to `set`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct MoveClock {
    /// Seconds to move forward (at most a year).
    #[serde(default)]
    #[schema(maximum = 31622400)]
    advance_secs: Option<u64>,
    /// The time to move to (not earlier than now).
    #[serde(default)]
    set: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClockReading {
    pub mode: ClockMode,
    pub now: DateTime<Utc>,
}

fn reading(clock: &Clock) -> ClockReading {
    ClockReading {
        mode: clock.mode(),
        now: clock.now(),
    }
}

/// The service's clock.
#[utoipa::path(get, path = "/v1/admin/clock", tag = "admin", operation_id = "admin_read_clock",
    security(("bearer" = ["admin"])),
    responses((status = 200, body = ClockReading)))]
async fn read_clock(platform: web::Data<Platform>) -> web::Json<ClockReading> {
    web::Json(reading(&platform.clock))
}

/// Moves a manual clock forward (simulations and tests); 409 on the system clock.
#[utoipa::path(post, path = "/v1/admin/clock", tag = "admin", operation_id = "admin_move_clock",
    request_body = MoveClock,
    security(("bearer" = ["admin"])),
    responses((status = 200, body = ClockReading), Conflict))]
async fn move_clock(platform: web::Data<Platform>, body: web::Json<MoveClock>) -> Result<HttpResponse, ApiError> {
    let moved = match (body.advance_secs, body.set) {
        (Some(secs), None) => {
            let secs = i64::try_from(secs)
                .ok()
                .filter(|s| *s <= 366 * 86_400)
                .ok_or_else(|| ApiError::field("advance_secs", "must be at most a year"))?;
            platform.clock.advance(chrono::Duration::seconds(secs))
        }
        (None, Some(to)) => platform.clock.set(to),
        _ => return Err(ApiError::field("advance_secs", "give either advance_secs or set")),
    };
    match moved {
        Ok(_) => Ok(HttpResponse::Ok().json(reading(&platform.clock))),
        Err(ClockError::System) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "system_clock",
            "The clock is the system clock",
            "only a service started with clock.mode = \"manual\" has a clock to move",
        )),
        Err(ClockError::Backwards) => Err(ApiError::field("set", "time does not go backwards")),
    }
}
