//! Intake's HTTP API.

pub mod common;
pub mod customers;
pub mod email;
pub mod incidents;
pub mod kb;
pub mod reports;
pub mod surveys;
pub mod thread;
pub mod tickets;

use actix_web::web;
use platform::error::{FieldError, Problem};
use utoipa::OpenApi;

use crate::core::articles::Articles;
use crate::core::open::Opener;

#[derive(OpenApi)]
#[openapi(
    info(title = "Intake API", description = "Tickets from every channel (web form, chat, email, phone, walk-in, API), classified, answered from the knowledge base or handed to a person, tracked to a satisfied close."),
    paths(
        tickets::create_ticket, tickets::list_tickets, tickets::get_ticket,
        thread::transition, thread::add_message, thread::list_messages,
        kb::answer_feedback, kb::article_from_ticket, kb::create_article, kb::get_article, kb::update, kb::search,
        customers::upsert, customers::get_customer, customers::history,
        email::inbound,
        incidents::list, incidents::create_incident, incidents::get_incident, incidents::link, incidents::unlink, incidents::resolve,
        surveys::get_survey, surveys::answer, surveys::follow_ups, surveys::record_follow_up,
        reports::quality,
    ),
    components(schemas(
        tickets::CreateTicketRequest, common::TicketResponse, common::ClassificationResponse, common::TicketListResponse,
        crate::domain::ticket::FaultRecord,
        thread::TransitionRequest, thread::CreateMessageRequest, thread::MessageResponse, thread::MessageListResponse,
        crate::domain::lifecycle::Action,
        kb::ArticleRequest, kb::ArticleResponse, kb::ArticleVersion, kb::ArticleWithHistory, kb::SearchHit, kb::SearchResponse,
        kb::AnswerFeedback, kb::ArticleFromTicket,
        crate::domain::customer::CustomerProfile, crate::domain::customer::Contact, customers::CustomerResponse, customers::HistoryResponse,
        email::InboundEmail, email::InboundEmailResponse,
        incidents::IncidentResponse, incidents::IncidentListResponse, incidents::CreateIncidentRequest, incidents::LinkRequest, incidents::ResolveRequest, incidents::ResolveResponse,
        surveys::SurveyResponse, surveys::SurveyAnswer, surveys::FollowUpResponse, surveys::FollowUpListResponse, surveys::FollowUpOutcome,
        reports::QualityReport, reports::QualityGroup, reports::KeywordCount, reports::FrequentQuestion,
        Problem, FieldError,
    )),
    tags(
        (name = "tickets", description = "Open, read and work tickets: lifecycle and conversation"),
        (name = "customers", description = "Support profiles and history"),
        (name = "channels", description = "Inbound email"),
        (name = "knowledge base", description = "Articles, search and smart answers"),
        (name = "incidents", description = "Outages grouped from many tickets"),
        (name = "surveys", description = "Satisfaction surveys and follow-up visits"),
        (name = "reports", description = "Quality reports for supervisors"),
    )
)]
struct IntakeApi;

pub fn openapi() -> utoipa::openapi::OpenApi {
    IntakeApi::openapi()
}

pub fn configure(cfg: &mut web::ServiceConfig, opener: &Opener) {
    cfg.app_data(web::Data::new(opener.clone()))
        .app_data(web::Data::from(opener.classifier.clone()))
        .app_data(web::Data::new(opener.lifecycle.clone()))
        .app_data(web::Data::new(Articles {
            platform: opener.platform.clone(),
            classifier: opener.classifier.clone(),
            index: opener.kb.clone(),
        }))
        .service(
            web::scope("/v1")
                .route("/tickets", web::post().to(tickets::create_ticket))
                .route("/tickets", web::get().to(tickets::list_tickets))
                .route("/tickets/{ticket_id}", web::get().to(tickets::get_ticket))
                .route("/tickets/{ticket_id}/transitions", web::post().to(thread::transition))
                .route("/tickets/{ticket_id}/messages", web::post().to(thread::add_message))
                .route("/tickets/{ticket_id}/messages", web::get().to(thread::list_messages))
                .route(
                    "/tickets/{ticket_id}/answer-feedback",
                    web::post().to(kb::answer_feedback),
                )
                .route("/tickets/{ticket_id}/article", web::post().to(kb::article_from_ticket))
                .route("/customers/{customer_id}", web::put().to(customers::upsert))
                .route("/customers/{customer_id}", web::get().to(customers::get_customer))
                .route("/customers/{customer_id}/tickets", web::get().to(customers::history))
                .route("/inbound/email", web::post().to(email::inbound))
                .route("/kb/articles", web::post().to(kb::create_article))
                .route("/kb/articles/{article_id}", web::get().to(kb::get_article))
                .route("/kb/articles/{article_id}", web::put().to(kb::update))
                .route("/kb/search", web::get().to(kb::search))
                .route("/incidents", web::get().to(incidents::list))
                .route("/incidents", web::post().to(incidents::create_incident))
                .route("/incidents/{incident_id}", web::get().to(incidents::get_incident))
                .route("/incidents/{incident_id}/tickets", web::post().to(incidents::link))
                .route(
                    "/incidents/{incident_id}/tickets/{ticket_id}",
                    web::delete().to(incidents::unlink),
                )
                .route("/incidents/{incident_id}/resolve", web::post().to(incidents::resolve))
                .route("/surveys/{token}", web::get().to(surveys::get_survey))
                .route("/surveys/{token}", web::post().to(surveys::answer))
                .route("/follow-ups", web::get().to(surveys::follow_ups))
                .route("/follow-ups/{follow_up_id}", web::post().to(surveys::record_follow_up))
                .route("/reports/quality", web::get().to(reports::quality)),
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
            27,
            "every route has an operation id"
        );
        let repeated: Vec<_> = seen.iter().filter(|(_, ops)| ops.len() > 1).collect();
        assert!(repeated.is_empty(), "repeated operation ids: {repeated:?}");
    }
}
