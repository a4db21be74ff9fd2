//! Routing's HTTP API.

pub mod queues;

use actix_web::web;
use platform::error::{FieldError, Problem};
use utoipa::OpenApi;

use crate::live::LiveQueues;

#[derive(OpenApi)]
#[openapi(
    info(title = "Routing API", description = "Live queues, assignment and service levels."),
    paths(queues::list_queues, queues::get_queue_entry),
    components(schemas(queues::QueueResponse, queues::QueueListResponse, queues::QueueEntryResponse, Problem, FieldError)),
    security(("bearer" = [])),
    tags((name = "queues", description = "Live queues"))
)]
struct RoutingApi;

pub fn openapi() -> utoipa::openapi::OpenApi {
    RoutingApi::openapi()
}

pub fn configure(cfg: &mut web::ServiceConfig, live: &LiveQueues) {
    cfg.app_data(web::Data::new(live.clone())).service(
        web::scope("/v1")
            .route("/queues", web::get().to(queues::list_queues))
            .route("/queue-entries/{ticket_id}", web::get().to(queues::get_queue_entry)),
    );
}
