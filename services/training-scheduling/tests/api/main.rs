//! Training-scheduling's API against real PostgreSQL, Redis and RabbitMQ.

use chrono::{Duration, Utc};
use platform::auth::Role;
use serde_json::{Value, json};
use testkit::TestApp;
use uuid::Uuid;

async fn app() -> TestApp {
    testkit::start(&training_scheduling::SPEC, &[]).await
}

fn session(days_ahead: i64) -> Value {
    let starts = Utc::now() + Duration::days(days_ahead);
    json!({
        "kind": "customer_training", "title": "平台使用培训", "mode": "online",
        "starts_at": starts, "ends_at": starts + Duration::minutes(90),
        "time_zone": "Asia/Shanghai", "capacity": 60
    })
}

#[tokio::test]
async fn a_supervisor_schedules_sessions_that_everyone_can_list_in_order() {
    let app = app().await;
    let supervisor = app.token(Uuid::new_v4(), Role::Supervisor);
    for days in [3, 1, 2] {
        let (status, body) = app.post_json("/v1/sessions", &supervisor, &session(days)).await;
        assert_eq!(status, 201, "{body}");
    }
    let customer = app.token(Uuid::new_v4(), Role::Customer);
    let page = app.get_json("/v1/sessions?limit=2", &customer).await;
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    assert!(items[0]["starts_at"].as_str() < items[1]["starts_at"].as_str());
    let cursor = page["next_cursor"].as_str().expect("cursor");
    let rest = app
        .get_json(&format!("/v1/sessions?limit=2&cursor={cursor}"), &customer)
        .await;
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(1));
    let id = items[0]["id"].as_str().expect("id");
    assert_eq!(app.get_status(&format!("/v1/sessions/{id}"), &customer).await.0, 200);
}

#[tokio::test]
async fn customers_cannot_schedule_and_bad_sessions_are_refused() {
    let app = app().await;
    let customer = app.token(Uuid::new_v4(), Role::Customer);
    assert_eq!(app.post_json("/v1/sessions", &customer, &session(1)).await.0, 403);
    let supervisor = app.token(Uuid::new_v4(), Role::Supervisor);
    let mut bad = session(-1);
    bad["time_zone"] = json!("Nowhere/Special");
    let (status, problem) = app.post_json("/v1/sessions", &supervisor, &bad).await;
    assert_eq!(status, 422);
    assert_eq!(testkit::problem_fields(&problem), ["starts_at", "time_zone"]);
    assert_eq!(app.count("SELECT count(*) FROM session").await, 0);
}

#[tokio::test]
async fn scheduling_rules_follow_the_service_clock() {
    let app = testkit::start(
        &training_scheduling::SPEC,
        &[("CLOCK__MODE", "manual"), ("CLOCK__START", "2026-09-01T00:00:00Z")],
    )
    .await;
    let supervisor = app.token(Uuid::new_v4(), Role::Supervisor);
    // In the future by the service's clock (though long past by the system's).
    let session = json!({
        "kind": "class", "title": "数学 第1课", "mode": "online",
        "starts_at": "2026-09-02T10:00:00Z", "ends_at": "2026-09-02T11:00:00Z",
        "time_zone": "Asia/Shanghai", "capacity": 30
    });
    let (status, body) = app.post_json("/v1/sessions", &supervisor, &session).await;
    assert_eq!(status, 201, "{body}");
    let upcoming = app.get_json("/v1/sessions", &supervisor).await;
    assert_eq!(upcoming["items"].as_array().map(Vec::len), Some(1));

    app.platform.clock.advance(chrono::Duration::days(3)).expect("advance");
    let later = app.get_json("/v1/sessions", &supervisor).await;
    assert_eq!(later["items"].as_array().map(Vec::len), Some(0), "no longer upcoming");
    let (status, _) = app.post_json("/v1/sessions", &supervisor, &session).await;
    assert_eq!(status, 422, "now in the past");
}

#[tokio::test]
async fn every_route_answers_each_kind_of_caller_as_it_declares() {
    let app = app().await;
    let calls = testkit::matrix::check_every_route(&app).await;
    assert!(calls > 0);
    let trainer = testkit::token_for(
        &platform::auth::Principal::new(Uuid::new_v4(), &[Role::Staff])
            .with_functions(&[platform::auth::StaffFunction::Trainer]),
    );
    assert_eq!(app.post_json("/v1/sessions", &trainer, &session(1)).await.0, 201);
    let unscoped = testkit::service_token(Uuid::new_v4(), &[]);
    assert_eq!(app.post_json("/v1/sessions", &unscoped, &session(1)).await.0, 403);
    let scheduler = testkit::service_token(Uuid::new_v4(), &["sessions:write"]);
    assert_eq!(app.post_json("/v1/sessions", &scheduler, &session(1)).await.0, 201);
}
