//! Refund's API against real PostgreSQL, Redis and RabbitMQ.

use platform::auth::Role;
use testkit::{TestApp, spawn};
use serde_json::{Value, json};
use uuid::Uuid;

async fn app() -> TestApp {
    let vars = testkit::Isolation::new()
        .service_env("REFUND", "refund")
        .await
        .expect("env");
    spawn(&refund::SPEC, &vars).await.expect("spawn")
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
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM refund_request")
        .fetch_one(&app.platform.pool)
        .await
        .expect("count");
    assert_eq!(n, 1);

    let path = format!("/v1/refunds/{}", first["id"].as_str().expect("id"));
    assert_eq!(app.get(&path, &token).send().await.expect("get").status(), 200);
    let stranger = app.token(Uuid::new_v4(), Role::Customer);
    assert_eq!(app.get(&path, &stranger).send().await.expect("get").status(), 404);
}

#[tokio::test]
async fn an_invalid_refund_is_refused_field_by_field() {
    let app = app().await;
    let token = app.token(Uuid::new_v4(), Role::Customer);
    let res = app
        .post("/v1/refunds", &token)
        .json(&json!({"enrolment_id": Uuid::new_v4(), "amount_minor": -5, "currency": "XXX", "reason": "bored"}))
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
    assert_eq!(fields, ["amount_minor", "currency", "reason"]);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM refund_request")
        .fetch_one(&app.platform.pool)
        .await
        .expect("count");
    assert_eq!(n, 0);
}
