//! Refund's HTTP API.

pub mod refunds;

use actix_web::web;
use platform::error::{FieldError, Problem};
use utoipa::OpenApi;

use crate::core::refunds::Refunds;

#[derive(OpenApi)]
#[openapi(
    info(title = "Refund API", description = "Refund and after-sales requests."),
    paths(refunds::create_refund, refunds::get_refund),
    components(schemas(refunds::CreateRefundRequest, refunds::RefundResponse, Problem, FieldError)),
    tags((name = "refunds", description = "File and read refund requests"))
)]
struct RefundApi;

pub fn openapi() -> utoipa::openapi::OpenApi {
    RefundApi::openapi()
}

pub fn configure(cfg: &mut web::ServiceConfig, refunds: &Refunds) {
    cfg.app_data(web::Data::new(refunds.clone())).service(
        web::scope("/v1")
            .route("/refunds", web::post().to(refunds::create_refund))
            .route("/refunds/{refund_id}", web::get().to(refunds::get_refund)),
    );
}
