//! Refund's API against real PostgreSQL, Redis and RabbitMQ. The service's clock is manual,
//! standing at [`T0`] until a test moves it, so cooling-off periods and decision times are
//! exact.
#![allow(clippy::disallowed_methods)]

use chrono::{DateTime, Duration, Utc};
use platform::auth::Role;
use serde_json::{Value, json};
use testkit::TestApp;
use uuid::Uuid;

mod audit;
mod enrolments;
mod events;
mod matrix;
mod policies;
mod reports;
mod requests;
mod workflow;

/// Where the service's clock stands when a test starts.
const T0: &str = "2026-09-01T08:00:00Z";

fn t0() -> DateTime<Utc> {
    at(T0)
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("{s}: {e}"))
}

async fn app() -> TestApp {
    app_with(&[]).await
}

/// The service on a manual clock at [`T0`], with some settings overridden (`SERVICE__...`).
async fn app_with(settings: &[(&str, &str)]) -> TestApp {
    let mut all = vec![("CLOCK__MODE", "manual"), ("CLOCK__START", T0)];
    all.extend_from_slice(settings);
    testkit::start(&refund::SPEC, &all).await
}

/// The company's systems: a service feeding enrolments.
fn feeder() -> String {
    testkit::service_token(Uuid::new_v4(), &["enrolments:write"])
}

fn agent() -> String {
    testkit::token(Uuid::new_v4(), Role::Agent)
}

fn supervisor() -> String {
    testkit::token(Uuid::new_v4(), Role::Supervisor)
}

/// An enrolment of `customer`, `days` days before [`T0`]: 3,000.00 CNY paid by WeChat Pay
/// (200.00 of it materials), 10 sessions of which 2 attended. Outside the cooling-off period
/// the standard policy quotes (3,000.00 − 200.00) × 70% = 1,960.00.
fn enrolment(customer: Uuid, days: i64) -> Value {
    json!({
        "customer_id": customer,
        "course_id": "python-101",
        "class_id": "python-101-a",
        "paid_minor": 300_000,
        "currency": "CNY",
        "channel": "wechat_pay",
        "payment_reference": format!("wx-{}", Uuid::new_v4().simple()),
        "enrolled_at": t0() - Duration::days(days),
        "total_sessions": 10,
        "attended_sessions": 2,
        "non_refundable": [{"kind": "materials", "amount_minor": 20_000}],
        "discount_minor": 50_000,
    })
}

/// The quote of [`enrolment`] outside the cooling-off period.
const QUOTE: i64 = 196_000;

/// Puts `body` as a new enrolment; its id.
async fn enrol_with(app: &TestApp, body: &Value) -> String {
    let id = Uuid::new_v4().to_string();
    let (status, e) = app.put_json(&format!("/v1/enrolments/{id}"), &feeder(), body).await;
    assert_eq!(status, 201, "{e}");
    id
}

/// A new [`enrolment`] of `customer`, `days` days before [`T0`]; its id.
async fn enrol(app: &TestApp, customer: Uuid, days: i64) -> String {
    enrol_with(app, &enrolment(customer, days)).await
}

/// Files `body` as the holder of `token`: the status and the body.
async fn file(app: &TestApp, token: &str, body: &Value) -> (u16, Value) {
    app.post_json("/v1/refund-requests", token, body).await
}

/// Files a request for `enrolment` as the holder of `token` (201 expected); the request.
async fn file_ok(app: &TestApp, token: &str, enrolment: &str, reason: &str) -> Value {
    let (status, r) = file(app, token, &json!({"enrolment_id": enrolment, "reason": reason})).await;
    assert_eq!(status, 201, "{r}");
    r
}

/// POSTs `body` (or nothing) to `/v1/refund-requests/{id}/{step}` as the holder of `token`.
async fn step(app: &TestApp, token: &str, id: &str, step: &str, body: Option<Value>) -> (u16, Value) {
    let path = format!("/v1/refund-requests/{id}/{step}");
    match body {
        Some(body) => app.post_json(&path, token, &body).await,
        None => {
            let res = app.post(&path, token).send().await.expect("sent");
            let status = res.status().as_u16();
            (status, res.json().await.unwrap_or(Value::Null))
        }
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("an id: {v}")).to_owned()
}

async fn count(app: &TestApp, table: &str) -> i64 {
    app.count(&format!("SELECT count(*) FROM {table}")).await
}

#[tokio::test]
async fn a_list_setting_of_one_value_reads_as_a_list_of_one() {
    let app = app_with(&[("SERVICE__CURRENCIES", "HKD")]).await;
    let path = format!("/v1/enrolments/{}", Uuid::new_v4());
    let (status, body) = app.put_json(&path, &feeder(), &enrolment(Uuid::new_v4(), 1)).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(testkit::problem_fields(&body), ["currency"]);
}

#[tokio::test]
async fn a_list_setting_splits_from_the_environment() {
    let app = app_with(&[("SERVICE__CURRENCIES", "CNY,HKD")]).await;
    let mut body = enrolment(Uuid::new_v4(), 1);
    body["currency"] = json!("HKD");
    enrol_with(&app, &body).await;
}

#[tokio::test]
async fn approval_limits_that_contradict_each_other_stop_start_up() {
    let vars = testkit::env_for(&refund::SPEC, &[("SERVICE__APPROVAL__AUTO_MAX_MINOR", "500000")]).await;
    let err = testkit::spawn(&refund::SPEC, &vars)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("service.approval.auto_max_minor"), "{err}");
}
