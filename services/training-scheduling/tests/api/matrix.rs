//! Who may call what: every route against every kind of caller (from the OpenAPI document's
//! declarations), and the records that belong to a participant.

use platform::auth::Role;
use reqwest::Method;
use serde_json::json;
use testkit::matrix::{Owned, check_every_route, check_owned};
use uuid::Uuid;

use super::{app, class, customer, feeder, first_session, id, training};

#[tokio::test]
async fn every_route_answers_each_kind_of_caller_as_it_declares() {
    let app = app().await;
    assert!(check_every_route(&app).await > 0);
    // Scopes: a service without one is refused; with it, let in.
    let session = first_session(&training(&app, 5, 5).await);
    let path = format!("/v1/sessions/{session}/registrations");
    let body = json!({"participant_id": Uuid::new_v4()});
    let unscoped = testkit::service_token(Uuid::new_v4(), &[]);
    assert_eq!(app.post_json(&path, &unscoped, &body).await.0, 403);
    let registrar = testkit::service_token(Uuid::new_v4(), &["registrations:write"]);
    assert_eq!(app.post_json(&path, &registrar, &body).await.0, 201);
    let reader = testkit::service_token(Uuid::new_v4(), &["registrations:write"]);
    assert_eq!(app.get_status("/v1/registrations", &reader).await.0, 403);
}

#[tokio::test]
async fn a_participants_records_answer_them_and_are_unknown_to_others() {
    let app = app().await;
    let me = Uuid::new_v4();
    let (owner, stranger) = (customer(me), customer(Uuid::new_v4()));
    let session = first_session(&training(&app, 5, 5).await);
    let (status, reg) = app
        .post_json(&format!("/v1/sessions/{session}/registrations"), &owner, &json!({}))
        .await;
    assert_eq!(status, 201, "{reg}");
    let reg = id(&reg);
    class(&app, "math-own", 2).await;
    let enrolment = Uuid::new_v4();
    let (status, _) = app
        .put_json(
            &format!("/v1/enrolments/{enrolment}"),
            &feeder(),
            &json!({"class_id": "math-own", "customer_id": me}),
        )
        .await;
    assert_eq!(status, 201);
    let cases = [
        Owned {
            method: Method::GET,
            path: format!("/v1/registrations/{reg}"),
            body: None,
            owner: &owner,
            stranger: &stranger,
        },
        Owned {
            method: Method::GET,
            path: format!("/v1/enrolments/{enrolment}"),
            body: None,
            owner: &owner,
            stranger: &stranger,
        },
        Owned {
            method: Method::POST,
            path: format!("/v1/registrations/{reg}/cancel"),
            body: Some(json!({"reason": "有事"})),
            owner: &owner,
            stranger: &stranger,
        },
    ];
    check_owned(&app, &cases).await;
    // Lists show a customer only their own.
    let theirs = app.get_json("/v1/registrations", &stranger).await;
    assert_eq!(theirs["items"].as_array().map(Vec::len), Some(0));
    let mine = app.get_json("/v1/registrations", &owner).await;
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(1));
    let agent = testkit::token(Uuid::new_v4(), Role::Agent);
    assert_eq!(app.get_status(&format!("/v1/registrations/{reg}"), &agent).await.0, 200);
}
