//! Training-scheduling's API against real PostgreSQL, Redis and RabbitMQ.

use chrono::{Duration, Utc};
use platform::auth::Role;
use testkit::{TestApp, spawn};
use serde_json::{Value, json};
use uuid::Uuid;

async fn app() -> TestApp {
    let vars = testkit::Isolation::new()
        .service_env("TRAINING_SCHEDULING", "training-scheduling")
        .await
        .expect("env");
    spawn(&training_scheduling::SPEC, &vars).await.expect("spawn")
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
        let res = app
            .post("/v1/sessions", &supervisor)
            .json(&session(days))
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), 201);
    }
    let customer = app.token(Uuid::new_v4(), Role::Customer);
    let page: Value = app
        .get("/v1/sessions?limit=2", &customer)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    assert!(items[0]["starts_at"].as_str() < items[1]["starts_at"].as_str());
    let cursor = page["next_cursor"].as_str().expect("cursor");
    let rest: Value = app
        .get(&format!("/v1/sessions?limit=2&cursor={cursor}"), &customer)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(1));
    let id = items[0]["id"].as_str().expect("id");
    let one = app
        .get(&format!("/v1/sessions/{id}"), &customer)
        .send()
        .await
        .expect("get");
    assert_eq!(one.status(), 200);
}

#[tokio::test]
async fn customers_cannot_schedule_and_bad_sessions_are_refused() {
    let app = app().await;
    let customer = app.token(Uuid::new_v4(), Role::Customer);
    assert_eq!(
        app.post("/v1/sessions", &customer)
            .json(&session(1))
            .send()
            .await
            .expect("send")
            .status(),
        403
    );
    let supervisor = app.token(Uuid::new_v4(), Role::Supervisor);
    let mut bad = session(-1);
    bad["time_zone"] = json!("Nowhere/Special");
    let res = app
        .post("/v1/sessions", &supervisor)
        .json(&bad)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await.expect("json");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["starts_at", "time_zone"]);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM session")
        .fetch_one(&app.platform.pool)
        .await
        .expect("count");
    assert_eq!(n, 0);
}
