//! Refund's HTTP API.

pub mod enrolments;
pub mod policies;
pub mod reports;
pub mod requests;
pub mod workflow;

use actix_web::http::header::{CONTENT_TYPE, HeaderValue};
use actix_web::{HttpResponse, web};
use platform::ApiError;
use platform::error::{FieldError, PROBLEM_JSON, Problem};
use serde_json::Value;
use utoipa::OpenApi;

use crate::core::Refunds;

#[derive(OpenApi)]
#[openapi(
    info(title = "Refund API", description = "Refund and after-sales: enrolments and payments from the company's systems, refund policies as versioned data with explained quotes, refund requests with their review and approval workflow (automatic inside the cooling-off period, supervisors for special cases, four eyes), an append-only audit trail and reports."),
    paths(
        enrolments::put_enrolment, enrolments::get_enrolment, enrolments::put_attendance,
        requests::create_refund_request, requests::list_refund_requests, requests::get_refund_request,
        workflow::review_refund_request, workflow::approve_refund_request, workflow::reject_refund_request,
        workflow::cancel_refund_request, workflow::get_refund_audit,
        policies::create_policy, policies::list_policies, policies::get_policy, policies::list_policy_presets,
        policies::create_quote,
        reports::get_refund_report,
    ),
    components(schemas(
        crate::domain::enrolment::EnrolmentRecord, enrolments::EnrolmentResponse, enrolments::AttendanceRequest,
        requests::CreateRefundRequest, requests::RefundRequestResponse, requests::QuoteSnapshot,
        requests::RefundRequestListResponse,
        workflow::ApproveRequest, workflow::RejectRequest, workflow::AuditEntryResponse, workflow::AuditResponse,
        policies::CreatePolicyRequest, policies::PolicyResponse, policies::PolicyListResponse,
        policies::PresetResponse, policies::PresetListResponse, policies::QuoteRequest, policies::QuoteResponse,
        reports::RefundReport, reports::ReportGroup, reports::Percentiles,
        Problem, FieldError,
    )),
    tags(
        (name = "enrolments", description = "Enrolments and payments, from the company's systems"),
        (name = "refund requests", description = "File, read and list refund requests"),
        (name = "workflow", description = "Review, approve, reject, cancel; the audit trail"),
        (name = "policies", description = "Refund policies as data, presets and quotes"),
        (name = "reports", description = "Refund figures for supervisors"),
    )
)]
struct RefundApi;

pub fn openapi() -> utoipa::openapi::OpenApi {
    RefundApi::openapi()
}

pub fn configure(cfg: &mut web::ServiceConfig, refunds: &Refunds) {
    cfg.app_data(web::Data::new(refunds.clone())).service(
        web::scope("/v1")
            .route("/enrolments/{enrolment_id}", web::put().to(enrolments::put_enrolment))
            .route("/enrolments/{enrolment_id}", web::get().to(enrolments::get_enrolment))
            .route(
                "/enrolments/{enrolment_id}/attendance",
                web::put().to(enrolments::put_attendance),
            )
            .route("/refund-requests", web::post().to(requests::create_refund_request))
            .route("/refund-requests", web::get().to(requests::list_refund_requests))
            .route(
                "/refund-requests/{request_id}",
                web::get().to(requests::get_refund_request),
            )
            .route(
                "/refund-requests/{request_id}/review",
                web::post().to(workflow::review_refund_request),
            )
            .route(
                "/refund-requests/{request_id}/approve",
                web::post().to(workflow::approve_refund_request),
            )
            .route(
                "/refund-requests/{request_id}/reject",
                web::post().to(workflow::reject_refund_request),
            )
            .route(
                "/refund-requests/{request_id}/cancel",
                web::post().to(workflow::cancel_refund_request),
            )
            .route(
                "/refund-requests/{request_id}/audit",
                web::get().to(workflow::get_refund_audit),
            )
            .route("/policies", web::post().to(policies::create_policy))
            .route("/policies", web::get().to(policies::list_policies))
            .route("/policies/{version}", web::get().to(policies::get_policy))
            .route("/policy-presets", web::get().to(policies::list_policy_presets))
            .route("/quotes", web::post().to(policies::create_quote))
            .route("/refund-reports", web::get().to(reports::get_refund_report)),
    );
}

/// `err` as problem+json with extension members beside the standard ones (RFC 9457 §3.2), such
/// as the `open_request_id` of a 409.
pub fn problem_with(err: &ApiError, members: &[(&str, Value)]) -> HttpResponse {
    let mut body = serde_json::to_value(err.problem()).unwrap_or_else(|_| Value::Object(Default::default()));
    if let Value::Object(map) = &mut body {
        for (name, value) in members {
            map.insert((*name).to_owned(), value.clone());
        }
    }
    HttpResponse::build(err.status)
        .insert_header((CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)))
        .json(body)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    /// Client generators name methods after operation ids: each must be unique.
    #[test]
    fn every_operation_id_is_unique() {
        let doc = serde_json::to_value(super::openapi()).expect("the document serializes");
        let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                if let Some(id) = op.get("operationId").and_then(|v| v.as_str()) {
                    seen.entry(id.to_owned()).or_default().push(format!("{method} {path}"));
                }
            }
        }
        assert_eq!(
            seen.values().map(Vec::len).sum::<usize>(),
            17,
            "every route has an operation id"
        );
        let repeated: Vec<_> = seen.iter().filter(|(_, ops)| ops.len() > 1).collect();
        assert!(repeated.is_empty(), "repeated operation ids: {repeated:?}");
    }
}
