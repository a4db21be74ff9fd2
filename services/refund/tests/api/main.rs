//! Refund's API against real PostgreSQL, Redis and RabbitMQ.
#![allow(clippy::disallowed_methods)]

use platform::auth::Role;
use serde_json::{Value, json};
use testkit::TestApp;
use uuid::Uuid;

async fn app() -> TestApp {
    testkit::start(&refund::SPEC, &[]).await
}

#[tokio::test]
async fn a_customer_files_a_refund_once_and_reads_it_back() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let token = app.token(customer, Role::Customer);
    let body = json!({"enrolment_id": Uuid::new_v4(), "amount_minor": 59900, "currency": "CNY", "reason": "schedule", "detail": "时间冲突"});
    let send = || {
        app.post("/v1/refunds", &token)
            .header("Idempotency-Key", "r-1")
            .json(&body)
            .send()
    };
    let first = send().await.expect("send");
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.expect("json");
    assert_eq!(first["status"], "requested");
    assert_eq!(first["customer_id"], customer.to_string());
    let again: Value = send().await.expect("send").json().await.expect("json");
    assert_eq!(again, first);
    assert_eq!(app.count("SELECT count(*) FROM refund_request").await, 1);

    let path = format!("/v1/refunds/{}", first["id"].as_str().expect("id"));
    assert_eq!(app.get_status(&path, &token).await.0, 200);
    let stranger = app.token(Uuid::new_v4(), Role::Customer);
    assert_eq!(app.get_status(&path, &stranger).await.0, 404);
}

#[tokio::test]
async fn an_invalid_refund_is_refused_field_by_field() {
    let app = app().await;
    let token = app.token(Uuid::new_v4(), Role::Customer);
    let (status, problem) = app
        .post_json(
            "/v1/refunds",
            &token,
            &json!({"enrolment_id": Uuid::new_v4(), "amount_minor": -5, "currency": "XXX", "reason": "bored"}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        testkit::problem_fields(&problem),
        ["amount_minor", "currency", "reason"]
    );
    assert_eq!(app.count("SELECT count(*) FROM refund_request").await, 0);
}

#[tokio::test]
async fn a_list_setting_of_one_value_reads_as_a_list_of_one() {
    let app = testkit::start(&refund::SPEC, &[("SERVICE__CURRENCIES", "HKD")]).await;
    let token = app.token(Uuid::new_v4(), Role::Customer);
    let (status, body) = app
        .post_json(
            "/v1/refunds",
            &token,
            &json!({"enrolment_id": Uuid::new_v4(), "amount_minor": 100, "currency": "CNY", "reason": "other"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
}

#[tokio::test]
async fn a_list_setting_splits_from_the_environment() {
    let app = testkit::start(&refund::SPEC, &[("SERVICE__CURRENCIES", "CNY,HKD")]).await;
    let token = app.token(Uuid::new_v4(), Role::Customer);
    let (status, body) = app
        .post_json(
            "/v1/refunds",
            &token,
            &json!({"enrolment_id": Uuid::new_v4(), "amount_minor": 100, "currency": "HKD", "reason": "other"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn every_route_answers_each_kind_of_caller_as_it_declares() {
    let app = app().await;
    assert!(testkit::matrix::check_every_route(&app).await > 0);
}
