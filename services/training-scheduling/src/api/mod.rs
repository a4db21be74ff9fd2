//! Training-scheduling's HTTP API.

pub mod sessions;

use actix_web::web;
use platform::error::{FieldError, Problem};
use utoipa::OpenApi;

use crate::core::sessions::Sessions;

#[derive(OpenApi)]
#[openapi(
    info(title = "Training and scheduling API", description = "Training sessions for customers and staff, and classes."),
    paths(sessions::create_session, sessions::get_session, sessions::list_sessions),
    components(schemas(sessions::CreateSessionRequest, sessions::SessionResponse, sessions::SessionListResponse, Problem, FieldError)),
    tags((name = "sessions", description = "Schedule and find sessions"))
)]
struct SchedulingApi;

pub fn openapi() -> utoipa::openapi::OpenApi {
    SchedulingApi::openapi()
}

pub fn configure(cfg: &mut web::ServiceConfig, sessions: &Sessions) {
    cfg.app_data(web::Data::new(sessions.clone())).service(
        web::scope("/v1")
            .route("/sessions", web::post().to(sessions::create_session))
            .route("/sessions", web::get().to(sessions::list_sessions))
            .route("/sessions/{session_id}", web::get().to(sessions::get_session)),
    );
}
