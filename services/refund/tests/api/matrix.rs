//! Who may call what: every route against every kind of caller (from the OpenAPI document's
//! declarations), and the records that belong to a customer.

use platform::auth::Role;
use reqwest::Method;
use serde_json::json;
use testkit::matrix::{Owned, check_every_route, check_owned};
use uuid::Uuid;

use super::{app, enrol, file_ok, id};

#[tokio::test]
async fn every_route_answers_each_kind_of_caller_as_it_declares() {
    let app = app().await;
    assert!(check_every_route(&app).await > 0);
}

#[tokio::test]
async fn a_customers_records_answer_them_and_are_unknown_to_other_customers() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let owner = app.token(customer, Role::Customer);
    let stranger = app.token(Uuid::new_v4(), Role::Customer);
    let filed = enrol(&app, customer, 30).await;
    let r = id(&file_ok(&app, &owner, &filed, "schedule").await);
    let fresh = enrol(&app, customer, 30).await;
    let cases = [
        Owned {
            method: Method::GET,
            path: format!("/v1/enrolments/{filed}"),
            body: None,
            owner: &owner,
            stranger: &stranger,
        },
        Owned {
            method: Method::POST,
            path: "/v1/quotes".to_owned(),
            body: Some(json!({"enrolment_id": filed, "reason": "schedule"})),
            owner: &owner,
            stranger: &stranger,
        },
        Owned {
            method: Method::GET,
            path: format!("/v1/refund-requests/{r}"),
            body: None,
            owner: &owner,
            stranger: &stranger,
        },
        Owned {
            method: Method::POST,
            path: format!("/v1/refund-requests/{r}/cancel"),
            body: None,
            owner: &owner,
            stranger: &stranger,
        },
        Owned {
            method: Method::POST,
            path: "/v1/refund-requests".to_owned(),
            body: Some(json!({"enrolment_id": fresh, "reason": "schedule"})),
            owner: &owner,
            stranger: &stranger,
        },
    ];
    check_owned(&app, &cases).await;
}
