//! Training-scheduling's API against real PostgreSQL, Redis and RabbitMQ. The service's clock
//! is manual, standing at [`T0`] until a test moves it.
#![allow(clippy::disallowed_methods)]

use platform::auth::{Principal, Role, StaffFunction};
use serde_json::{Value, json};
use testkit::TestApp;
use uuid::Uuid;

mod calendar;
mod catalog;
mod enrolments;
mod matrix;
mod registrations;
mod sessions;

/// Where the service's clock stands when a test starts.
const T0: &str = "2030-01-06T00:00:00Z";

async fn app() -> TestApp {
    app_with(&[]).await
}

/// The service on a manual clock at [`T0`], with some settings overridden.
async fn app_with(settings: &[(&str, &str)]) -> TestApp {
    let mut all = vec![("CLOCK__MODE", "manual"), ("CLOCK__START", T0)];
    all.extend_from_slice(settings);
    testkit::start(&training_scheduling::SPEC, &all).await
}

fn staff(functions: &[StaffFunction]) -> String {
    testkit::token_for(&Principal::new(Uuid::new_v4(), &[Role::Staff]).with_functions(functions))
}

/// A class advisor (班主任).
fn advisor() -> String {
    staff(&[StaffFunction::ClassAdvisor])
}

fn trainer_token(id: Uuid) -> String {
    testkit::token_for(&Principal::new(id, &[Role::Staff]).with_functions(&[StaffFunction::Trainer]))
}

fn supervisor() -> String {
    testkit::token(Uuid::new_v4(), Role::Supervisor)
}

fn customer(id: Uuid) -> String {
    testkit::token(id, Role::Customer)
}

/// The company's systems, enrolling students.
fn feeder() -> String {
    testkit::service_token(Uuid::new_v4(), &["enrolments:write"])
}

fn id(v: &Value) -> Uuid {
    v["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no id in {v}"))
}

/// A course, created by an advisor.
async fn course(app: &TestApp) -> Uuid {
    let code = format!("math-{}", &Uuid::new_v4().simple().to_string()[..8]);
    let (status, body) = app
        .post_json(
            "/v1/courses",
            &advisor(),
            &json!({"code": code, "title": "初中数学提高班"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    id(&body)
}

/// A weekly class body: Mondays 18:00 Shanghai from 2030-03-04, `count` sessions, on site.
fn class_body(code: &str, trainer: Uuid, room: &str, count: u32) -> Value {
    json!({
        "code": code, "title": "初中数学提高班 A 班", "mode": "on_site", "room": room,
        "trainer_id": trainer, "capacity": 3, "time_zone": "Asia/Shanghai",
        "starts_at": "2030-03-04T18:00:00+08:00", "ends_at": "2030-03-04T19:30:00+08:00",
        "recurrence": format!("FREQ=WEEKLY;BYDAY=MO;COUNT={count}")
    })
}

/// A class of a new course; its response.
async fn class(app: &TestApp, code: &str, count: u32) -> Value {
    let course = course(app).await;
    let body = class_body(code, Uuid::new_v4(), &format!("Room {code}"), count);
    let (status, created) = app
        .post_json(&format!("/v1/courses/{course}/classes"), &advisor(), &body)
        .await;
    assert_eq!(status, 201, "{created}");
    created
}

/// A one-session online customer training with `capacity` seats, `days` days after T0; its
/// response.
async fn training(app: &TestApp, capacity: i32, days: i64) -> Value {
    let starts = chrono::DateTime::parse_from_rfc3339(T0).expect("T0") + chrono::Duration::days(days);
    let (status, body) = app
        .post_json(
            "/v1/trainings",
            &supervisor(),
            &json!({
                "kind": "customer_training", "title": "平台使用培训", "audience": ["parents", "students"],
                "mode": "online", "meeting_url": "https://meeting.example.com/j/1",
                "capacity": capacity, "time_zone": "Asia/Shanghai",
                "starts_at": starts.to_rfc3339(), "ends_at": (starts + chrono::Duration::minutes(90)).to_rfc3339()
            }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body
}

/// The first session's id of an offering response.
fn first_session(offering: &Value) -> Uuid {
    id(&offering["sessions"][0])
}

/// How many outbox events of `event_type` were staged.
async fn events(app: &TestApp, event_type: &str) -> i64 {
    app.count(&format!(
        "SELECT count(*) FROM outbox_event WHERE event_type = '{event_type}'"
    ))
    .await
}
