//! Intake's API against real PostgreSQL, Redis and RabbitMQ.
#![allow(clippy::disallowed_methods)]

use platform::auth::Role;
use serde_json::{Value, json};
use testkit::{TestApp, problem_fields, spawn};
use uuid::Uuid;

mod channels;
mod clock;
mod customers;
mod incidents;
mod kb;
mod lifecycle;
mod matrix;
mod order;
mod refunds;
mod reports;
mod surveys;

async fn app() -> TestApp {
    app_with(&[]).await
}

/// The service with some `[service]` settings overridden (`SERVICE__...`).
async fn app_with(settings: &[(&str, &str)]) -> TestApp {
    testkit::start(&intake::SPEC, settings).await
}

/// Opens a ticket as a new customer and returns it.
async fn open_new(app: &TestApp, subject: &str, body: &str) -> Value {
    open(app, &app.token(Uuid::new_v4(), Role::Customer), subject, body).await
}

/// Applies `action` to ticket `id` as the holder of `token` (`assign` names a new agent): the
/// status and the body.
async fn act(app: &TestApp, token: &str, id: &str, action: &str) -> (u16, Value) {
    let body = if action == "assign" {
        json!({ "action": action, "agent_id": Uuid::new_v4() })
    } else {
        json!({ "action": action })
    };
    app.post_json(&format!("/v1/tickets/{id}/transitions"), token, &body)
        .await
}

/// Applies each of `actions` in turn; each must succeed.
async fn walk(app: &TestApp, token: &str, id: &str, actions: &[&str]) {
    for action in actions {
        let (status, ticket) = act(app, token, id, action).await;
        assert_eq!(status, 200, "{action}: {ticket}");
    }
}

/// Opens a ticket as `token` (a customer) and returns it.
async fn open(app: &TestApp, token: &str, subject: &str, body: &str) -> Value {
    let body = json!({"channel": "web", "subject": subject, "body": body});
    let (status, ticket) = app.post_json("/v1/tickets", token, &body).await;
    assert_eq!(status, 201, "{ticket}");
    ticket
}

#[tokio::test]
async fn a_customer_opens_a_ticket_and_the_created_event_is_published() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let token = app.token(customer, Role::Customer);
    let res = app
        .post("/v1/tickets", &token)
        .json(&json!({"channel": "web", "subject": "直播课进不去", "body": "点击进入教室后一直转圈"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().expect("location").to_owned();
    let ticket: Value = res.json().await.expect("json");
    assert_eq!(ticket["customer_id"], customer.to_string());
    assert_eq!(ticket["status"], "queued");
    assert_eq!(ticket["priority"], "normal");
    assert_eq!(location, format!("/v1/tickets/{}", ticket["id"].as_str().expect("id")));

    let got: Value = app.get_json(&location, &token).await;
    assert_eq!(got, ticket);

    let id = ticket["id"].as_str().expect("id").to_owned();
    testkit::eventually(5, "the event relayed", || async {
        let published: Option<bool> = sqlx::query_scalar(
            "SELECT published_at IS NOT NULL FROM outbox_event WHERE event_type = 'intake.ticket.created' AND envelope->'data'->>'ticket_id' = $1",
        )
        .bind(&id)
        .fetch_optional(&app.platform.pool)
        .await?;
        Ok(published.filter(|p| *p))
    })
    .await
    .expect("published");
    app.stop().await.expect("stop");
}

/// Concurrent creates share statements (the ticket writer): each still gets its own whole
/// ticket, number and event.
#[tokio::test]
async fn tickets_opened_at_once_are_each_written_whole_with_their_own_event() {
    let app = app().await;
    let n = 60;
    let opened = futures_util::future::join_all((0..n).map(|i| {
        let token = app.token(Uuid::new_v4(), Role::Customer);
        let app = &app;
        async move {
            let ticket = open(
                app,
                &token,
                &format!("想咨询Python课程 {i}"),
                "请问这门课多少钱，适合零基础吗",
            )
            .await;
            (token, ticket)
        }
    }))
    .await;
    let mut numbers: Vec<i64> = opened
        .iter()
        .map(|(_, t)| t["number"].as_i64().expect("number"))
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), n);
    for (token, ticket) in &opened {
        let id = ticket["id"].as_str().expect("id");
        let got: Value = app.get_json(&format!("/v1/tickets/{id}"), token).await;
        assert_eq!(&got, ticket);
        let events = app
            .count(&format!(
                "SELECT count(*) FROM outbox_event WHERE event_type = 'intake.ticket.created' \
                 AND envelope->'data'->>'ticket_id' = '{id}' \
                 AND (envelope->'data'->>'number')::bigint = {}",
                ticket["number"]
            ))
            .await;
        assert_eq!(events, 1, "{ticket}");
    }
    assert_eq!(app.count("SELECT count(*) FROM ticket").await, n as i64);
    app.stop().await.expect("stop");
}

#[tokio::test]
async fn a_retried_create_with_the_same_idempotency_key_opens_one_ticket() {
    let app = app().await;
    let token = app.token(Uuid::new_v4(), Role::Customer);
    let body = json!({"channel": "chat", "subject": "Refund", "body": "Where is my refund?"});
    let send = |b: &Value| {
        app.post("/v1/tickets", &token)
            .header("Idempotency-Key", "abc-1")
            .json(b)
            .send()
    };
    let first: Value = send(&body).await.expect("first").json().await.expect("json");
    let second = send(&body).await.expect("second");
    assert_eq!(second.status(), 201);
    assert_eq!(second.json::<Value>().await.expect("json"), first);
    let changed = send(&json!({"channel": "chat", "subject": "Other", "body": "x"}))
        .await
        .expect("changed");
    assert_eq!(changed.status(), 422);
    assert_eq!(app.count("SELECT count(*) FROM ticket").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM outbox_event").await, 1);
}

#[tokio::test]
async fn invalid_tickets_get_field_errors_and_change_nothing() {
    let app = app().await;
    let token = app.token(Uuid::new_v4(), Role::Customer);
    let body = json!({"channel": "fax", "subject": " ", "body": "hello", "priority": "asap"});
    let (status, problem) = app.post_json("/v1/tickets", &token, &body).await;
    assert_eq!(status, 422);
    assert_eq!(problem_fields(&problem), ["channel", "subject", "priority"]);
    let body = json!({"channel": "web", "subject": "s", "body": "b", "colour": "red"});
    let (status, _) = app.post_json("/v1/tickets", &token, &body).await;
    assert_eq!(status, 422);
    let anonymous = app
        .client
        .post(format!("{}/v1/tickets", app.url))
        .json(&json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(anonymous.status(), 401);
    assert_eq!(app.count("SELECT count(*) FROM ticket").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM outbox_event").await, 0);
}

#[tokio::test]
async fn customers_see_only_their_own_tickets_and_agents_open_them_for_customers() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let agent = app.token(Uuid::new_v4(), Role::Agent);
    let body = json!({"channel": "phone", "subject": "Call", "body": "Parent called about the timetable"});
    let (missing, _) = app.post_json("/v1/tickets", &agent, &body).await;
    assert_eq!(missing, 422, "an agent must name the customer");
    let body = json!({"channel": "phone", "subject": "Call", "body": "Parent called about the timetable", "customer_id": customer});
    let (status, ticket) = app.post_json("/v1/tickets", &agent, &body).await;
    assert_eq!(status, 201);
    let path = format!("/v1/tickets/{}", ticket["id"].as_str().expect("id"));
    let (owner, _) = app.get_status(&path, &app.token(customer, Role::Customer)).await;
    assert_eq!(owner, 200);
    let (stranger, _) = app.get_status(&path, &app.token(Uuid::new_v4(), Role::Customer)).await;
    assert_eq!(stranger, 404);
    let (bad_id, _) = app.get_status("/v1/tickets/not-a-uuid", &agent).await;
    assert_eq!(bad_id, 400);
}

#[tokio::test]
async fn a_new_ticket_is_classified_with_its_reasons_and_the_event_carries_the_category() {
    let app = app().await;
    let token = app.token(Uuid::new_v4(), Role::Customer);
    let body = json!({"channel": "chat", "subject": "投诉老师态度差", "body": "老师上课态度非常差，孩子问问题被骂，我要投诉！"});
    let (status, ticket) = app.post_json("/v1/tickets", &token, &body).await;
    assert_eq!(status, 201);
    let c = &ticket["classification"];
    assert_eq!(c["category"], "complaint");
    assert_eq!(c["language"], "zh-CN");
    assert_eq!(c["high_emotion"], true);
    assert_eq!(ticket["priority"], "high", "high emotion raises the priority");
    assert!(
        c["explanation"]["category_terms"]
            .as_array()
            .is_some_and(|t| t.iter().any(|x| x == "投诉"))
    );
    assert!(c["keywords"].as_array().is_some_and(|k| !k.is_empty()));

    let envelope: Value =
        sqlx::query_scalar("SELECT envelope FROM outbox_event WHERE event_type = 'intake.ticket.created'")
            .fetch_one(&app.platform.pool)
            .await
            .expect("event");
    assert_eq!(envelope["data"]["category"], "complaint");
    assert_eq!(envelope["data"]["priority"], "high");
    assert_eq!(envelope["data"]["language"], "zh-CN");
}

#[tokio::test]
async fn a_customer_who_keeps_writing_is_flagged_high_emotion() {
    let app = app().await;
    let token = app.token(Uuid::new_v4(), Role::Customer);
    let mut flags = Vec::new();
    for i in 0..4 {
        let body = json!({"channel": "web", "subject": format!("When is my class {i}"), "body": "When does the next lesson start?"});
        let (_, t) = app.post_json("/v1/tickets", &token, &body).await;
        flags.push(t["classification"]["high_emotion"].as_bool().unwrap_or(false));
    }
    assert_eq!(
        flags,
        [false, false, false, true],
        "the fourth contact within the window is flagged"
    );
}

#[tokio::test]
async fn a_bad_rules_file_stops_start_up_naming_the_setting() {
    let dir = std::env::temp_dir().join(format!("rules-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("rules.toml");
    std::fs::write(
        &file,
        intake::domain::classify::DEFAULT_RULES.replace("name = \"other\"", "name = \"misc\""),
    )
    .expect("write");
    let vars = testkit::env_for(
        &intake::SPEC,
        &[("SERVICE__CLASSIFICATION_RULES", &file.to_string_lossy())],
    )
    .await;
    let err = spawn(&intake::SPEC, &vars).await.err().expect("start-up fails");
    let text = format!("{err:#}");
    assert!(
        text.contains("service.classification_rules") && text.contains("misc"),
        "{text}"
    );
}
