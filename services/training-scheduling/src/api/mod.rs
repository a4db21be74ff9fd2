//! Training-scheduling's HTTP API.

pub mod calendars;
pub mod catalog;
pub mod enrolments;
pub mod registrations;
pub mod sessions;

use actix_web::web;
use platform::error::{FieldError, Problem};
use utoipa::OpenApi;

use crate::core::Scheduling;

#[derive(OpenApi)]
#[openapi(
    info(title = "Training and scheduling API", description = "Courses, classes and trainings with recurring schedules (RFC 5545 rules in IANA time zones), trainers and rooms never double-booked, seats and an orderly waitlist, class enrolments and transfers, and iCalendar feeds per participant and trainer."),
    paths(
        catalog::create_course, catalog::list_courses, catalog::get_course,
        catalog::create_class, catalog::list_classes, catalog::get_class,
        catalog::create_training, catalog::list_trainings, catalog::get_training,
        sessions::list_sessions, sessions::get_session, sessions::reschedule_session, sessions::cancel_session,
        sessions::list_session_changes,
        registrations::create_registration, registrations::list_registrations, registrations::get_registration,
        registrations::cancel_registration, registrations::move_registration,
        enrolments::put_enrolment, enrolments::get_enrolment, enrolments::list_class_enrolments,
        calendars::create_calendar_feed, calendars::get_calendar,
    ),
    components(schemas(
        catalog::CreateCourseRequest, catalog::CourseResponse, catalog::CourseListResponse,
        catalog::CreateClassRequest, catalog::CreateTrainingRequest, catalog::OfferingResponse,
        catalog::OfferingListResponse,
        sessions::SessionResponse, sessions::SessionListResponse, sessions::RescheduleRequest, sessions::CancelRequest,
        sessions::SessionChangeResponse, sessions::SessionChangesResponse,
        registrations::CreateRegistrationRequest, registrations::RegistrationResponse,
        registrations::RegistrationOutcomeResponse, registrations::RegistrationListResponse,
        registrations::CancelRegistrationRequest, registrations::MoveRegistrationRequest,
        enrolments::EnrolmentRequest, enrolments::EnrolmentResponse, enrolments::RosterResponse,
        calendars::CreateFeedRequest, calendars::FeedResponse,
        Problem, FieldError,
    )),
    tags(
        (name = "catalogue", description = "Courses, classes and trainings with their schedules"),
        (name = "sessions", description = "Find sessions; move or cancel one"),
        (name = "registrations", description = "Seats and the waitlist for training sessions"),
        (name = "enrolments", description = "Class membership from the company's systems"),
        (name = "calendars", description = "iCalendar feeds behind secret URLs"),
    )
)]
struct SchedulingApi;

pub fn openapi() -> utoipa::openapi::OpenApi {
    SchedulingApi::openapi()
}

pub fn configure(cfg: &mut web::ServiceConfig, scheduling: &Scheduling) {
    cfg.app_data(web::Data::new(scheduling.clone())).service(
        web::scope("/v1")
            .route("/courses", web::post().to(catalog::create_course))
            .route("/courses", web::get().to(catalog::list_courses))
            .route("/courses/{course_id}", web::get().to(catalog::get_course))
            .route("/courses/{course_id}/classes", web::post().to(catalog::create_class))
            .route("/courses/{course_id}/classes", web::get().to(catalog::list_classes))
            .route("/classes/{class_id}", web::get().to(catalog::get_class))
            .route(
                "/classes/{class_id}/enrolments",
                web::get().to(enrolments::list_class_enrolments),
            )
            .route("/trainings", web::post().to(catalog::create_training))
            .route("/trainings", web::get().to(catalog::list_trainings))
            .route("/trainings/{training_id}", web::get().to(catalog::get_training))
            .route("/sessions", web::get().to(sessions::list_sessions))
            .route("/sessions/{session_id}", web::get().to(sessions::get_session))
            .route(
                "/sessions/{session_id}/reschedule",
                web::post().to(sessions::reschedule_session),
            )
            .route(
                "/sessions/{session_id}/cancel",
                web::post().to(sessions::cancel_session),
            )
            .route(
                "/sessions/{session_id}/changes",
                web::get().to(sessions::list_session_changes),
            )
            .route(
                "/sessions/{session_id}/registrations",
                web::post().to(registrations::create_registration),
            )
            .route("/registrations", web::get().to(registrations::list_registrations))
            .route(
                "/registrations/{registration_id}",
                web::get().to(registrations::get_registration),
            )
            .route(
                "/registrations/{registration_id}/cancel",
                web::post().to(registrations::cancel_registration),
            )
            .route(
                "/registrations/{registration_id}/move",
                web::post().to(registrations::move_registration),
            )
            .route("/enrolments/{enrolment_id}", web::put().to(enrolments::put_enrolment))
            .route("/enrolments/{enrolment_id}", web::get().to(enrolments::get_enrolment))
            .route("/calendar-feeds", web::post().to(calendars::create_calendar_feed))
            .route("/calendars/{token}", web::get().to(calendars::get_calendar)),
    );
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
            24,
            "every route has an operation id"
        );
        let repeated: Vec<_> = seen.iter().filter(|(_, ops)| ops.len() > 1).collect();
        assert!(repeated.is_empty(), "repeated operation ids: {repeated:?}");
    }
}
