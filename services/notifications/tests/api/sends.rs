//! Direct and scheduled sends by other systems.

use std::time::Duration;

use chrono::Utc;
use platform::auth::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{app, log_of, wait_status};

#[tokio::test]
async fn a_direct_send_is_idempotent_and_a_scheduled_one_goes_out_at_its_time_or_is_cancelled() {
    let app = app().await;
    let sender = app.token(Uuid::new_v4(), Role::Admin);
    let who = Uuid::new_v4();
    let body = json!({"recipient_id": who, "notification": "class_reminder", "channels": ["in_app"],
        "data": {"course": "Python 入门"}, "draft": {"subject": "上课提醒", "body": "{{ course }} 将在 1 小时后开始。"}});
    let send = |key: &'static str, b: Value| {
        let app = &app;
        let sender = sender.clone();
        async move {
            app.post("/v1/messages", &sender)
                .header("Idempotency-Key", key)
                .json(&b)
                .send()
                .await
                .expect("send")
        }
    };
    let first = send("k-1", body.clone()).await;
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.expect("json");
    let again: Value = send("k-1", body.clone()).await.json().await.expect("json");
    assert_eq!(first["id"], again["id"], "the same key replays the first answer");
    assert_eq!(first["deliveries"][0]["status"], "delivered");
    let token = app.token(who, Role::Customer);
    let inbox = app.get_json("/v1/inbox", &token).await;
    assert_eq!(inbox["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(inbox["items"][0]["body"], "Python 入门 将在 1 小时后开始。");

    let mut later = body.clone();
    later["send_at"] = json!(Utc::now() + chrono::Duration::seconds(2));
    let scheduled: Value = send("k-2", later).await.json().await.expect("json");
    assert_eq!(scheduled["deliveries"][0]["status"], "pending");
    let id = scheduled["id"].as_str().expect("id").to_owned();
    assert_eq!(crate::inbox_len(&app, &token).await, Some(1), "not yet");
    wait_status(&app, &format!("event_id={id}"), "in_app", "delivered", 10).await;
    assert_eq!(crate::inbox_len(&app, &token).await, Some(2));
    assert_eq!(app.delete_json(&format!("/v1/messages/{id}"), &sender).await.0, 409);

    let mut next_week = body.clone();
    next_week["send_at"] = json!(Utc::now() + chrono::Duration::days(7));
    let far: Value = send("k-3", next_week).await.json().await.expect("json");
    let far_id = far["id"].as_str().expect("id");
    assert_eq!(app.delete_json(&format!("/v1/messages/{far_id}"), &sender).await.0, 204);
    let got = app.get_json(&format!("/v1/messages/{far_id}"), &sender).await;
    assert_eq!(got["deliveries"][0]["status"], "cancelled");
    assert_eq!(log_of(&app, &format!("event_id={far_id}")).await[0]["source"], "api");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let missing = format!("/v1/messages/{}", Uuid::now_v7());
    assert_eq!(app.delete_json(&missing, &sender).await.0, 404);
}

#[tokio::test]
async fn bad_sends_are_refused_and_change_nothing() {
    let app = app().await;
    let sender = app.token(Uuid::new_v4(), Role::Admin);
    let who = Uuid::new_v4();
    let bad = json!({"recipient_id": who, "notification": "ticket_received",
        "channels": ["pigeon"], "urgency": "asap", "send_at": Utc::now() + chrono::Duration::days(800)});
    let (status, p) = app.post_json("/v1/messages", &sender, &bad).await;
    assert_eq!(status, 422);
    assert_eq!(p["errors"].as_array().map(Vec::len), Some(3), "{p}");
    let unrenderable = json!({"recipient_id": who, "notification": "sla_warning",
        "channels": ["in_app"], "data": {}, "draft": {"body": "{{ ticket.id.x }}"}});
    assert_eq!(app.post_json("/v1/messages", &sender, &unrenderable).await.0, 422);
    let service = testkit::service_token(Uuid::new_v4(), &["notifications:send"]);
    let drafted = json!({"recipient_id": who, "notification": "note", "channels": ["in_app"], "data": {},
        "draft": {"body": "any template code"}});
    assert_eq!(
        app.post_json("/v1/messages", &service, &drafted).await.0,
        403,
        "drafts are admins'"
    );
    let runaway = json!({"recipient_id": who, "notification": "note", "channels": ["in_app"], "data": {},
        "draft": {"body": "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}"}});
    let (status, p) = app.post_json("/v1/messages", &sender, &runaway).await;
    assert_eq!(status, 422, "{p}");
    assert_eq!(testkit::problem_fields(&p), ["draft.body"]);
    let unknown = json!({"recipient_id": who, "notification": "no_such", "channels": ["in_app"]});
    assert_eq!(app.post_json("/v1/messages", &sender, &unknown).await.0, 422);
    // A saved template may use what deliveries add to the data (`base_url`).
    let survey = json!({"recipient_id": Uuid::new_v4(), "notification": "survey_requested",
        "channels": ["in_app"], "data": {"ticket_id": Uuid::now_v7(), "token": "t1"}});
    assert_eq!(app.post_json("/v1/messages", &sender, &survey).await.0, 202);
    let customer = app.token(who, Role::Customer);
    let forbidden = json!({"recipient_id": who, "notification": "ticket_received",
        "channels": ["in_app"], "data": {"ticket_id": Uuid::now_v7()}});
    assert_eq!(app.post_json("/v1/messages", &customer, &forbidden).await.0, 403);
    assert!(log_of(&app, &format!("recipient_id={who}")).await.is_empty());
}
