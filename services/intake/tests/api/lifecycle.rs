//! The ticket lifecycle and its conversation thread.

use platform::auth::Role;
use serde_json::{Value, json};
use testkit::TestApp;
use uuid::Uuid;

use super::{act, app, app_with, open};

/// Posts a message to ticket `id`: the status and the body.
async fn say(app: &TestApp, token: &str, id: &str, body: Value) -> (u16, Value) {
    app.post_json(&format!("/v1/tickets/{id}/messages"), token, &body).await
}

async fn events(app: &TestApp, ticket: &str, kind: &str) -> Vec<Value> {
    sqlx::query_scalar(
        "SELECT envelope FROM outbox_event WHERE event_type = $1 AND envelope->'data'->>'ticket_id' = $2 ORDER BY id",
    )
    .bind(kind)
    .bind(ticket)
    .fetch_all(&app.platform.pool)
    .await
    .expect("events")
}

fn id(t: &Value) -> String {
    t["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn a_ticket_walks_the_whole_path_and_each_change_is_an_event() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let me = app.token(customer, Role::Customer);
    let service = testkit::service_token(Uuid::new_v4(), &["tickets:write"]);
    let agent = app.token(Uuid::new_v4(), Role::Agent);
    let t = open(&app, &me, "作业提交不了", "点提交按钮没有反应").await;
    assert_eq!(t["status"], "queued", "no article answers it: it waits for a person");
    let t = id(&t);
    // Queueing again is not a change.
    assert_eq!(act(&app, &service, &t, "queue").await.0, 409);
    for (token, action, status) in [
        (&service, "assign", "assigned"),
        (&agent, "start", "in_progress"),
        (&agent, "wait_on_customer", "waiting_on_customer"),
    ] {
        let (code, ticket) = act(&app, token, &t, action).await;
        assert_eq!(code, 200, "{action}");
        assert_eq!(ticket["status"], status);
    }
    // The customer's answer puts it back in progress by itself.
    assert_eq!(say(&app, &me, &t, json!({"body": "换了浏览器还是不行"})).await.0, 201);
    let now: Value = app.get_json(&format!("/v1/tickets/{t}"), &me).await;
    assert_eq!(now["status"], "in_progress");
    let (_, resolved) = act(&app, &agent, &t, "resolve").await;
    assert_eq!(resolved["status"], "resolved");
    assert!(resolved["resolved_at"].is_string());
    let (_, closed) = act(&app, &me, &t, "close").await;
    assert_eq!(closed["status"], "closed");
    assert!(closed["closed_at"].is_string());

    let changes: Vec<String> = events(&app, &t, "intake.ticket.status_changed")
        .await
        .iter()
        .map(|e| format!("{}>{}", e["data"]["from"], e["data"]["to"]).replace('"', ""))
        .collect();
    assert_eq!(
        changes,
        [
            "queued>assigned",
            "assigned>in_progress",
            "in_progress>waiting_on_customer",
            "waiting_on_customer>in_progress",
            "in_progress>resolved",
            "resolved>closed"
        ]
    );
    assert_eq!(events(&app, &t, "intake.ticket.resolved").await.len(), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM scheduled_job WHERE kind = 'ticket.auto_close' AND status = 'pending'")
            .await,
        0,
        "closing by hand cancels the auto-close timer"
    );
}

#[tokio::test]
async fn an_illegal_transition_is_a_409_and_changes_nothing() {
    let app = app().await;
    let me = app.token(Uuid::new_v4(), Role::Customer);
    let agent = app.token(Uuid::new_v4(), Role::Agent);
    let t = id(&open(&app, &me, "Login", "I cannot log in").await);
    let before = app.count("SELECT count(*) FROM outbox_event").await;

    let res = app
        .post(&format!("/v1/tickets/{t}/transitions"), &agent)
        .json(&json!({"action": "close"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 409);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let problem: Value = res.json().await.expect("json");
    assert!(
        problem["detail"].as_str().is_some_and(|d| d.contains("queued")),
        "{problem}"
    );
    // A customer may not act as an agent, nor on someone else's ticket.
    assert_eq!(act(&app, &me, &t, "resolve").await.0, 403);
    let stranger = app.token(Uuid::new_v4(), Role::Customer);
    assert_eq!(act(&app, &stranger, &t, "cancel").await.0, 404);
    let (unknown, _) = act(&app, &agent, &t, "teleport").await;
    assert_eq!(unknown, 422);

    let (cancelled, _) = act(&app, &me, &t, "cancel").await;
    assert_eq!(cancelled, 200);
    assert_eq!(act(&app, &me, &t, "reopen").await.0, 409);
    let (status, _) = say(&app, &me, &t, json!({"body": "hello?"})).await;
    assert_eq!(status, 409, "a cancelled ticket takes no messages");
    let status: String = sqlx::query_scalar("SELECT status FROM ticket")
        .fetch_one(&app.platform.pool)
        .await
        .expect("status");
    assert_eq!(status, "cancelled");
    assert_eq!(
        app.count("SELECT count(*) FROM outbox_event").await,
        before + 1,
        "only the cancel was an event"
    );
}

#[tokio::test]
async fn internal_notes_stay_internal_and_the_first_public_reply_stamps_first_response() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let me = app.token(customer, Role::Customer);
    let agent = app.token(Uuid::new_v4(), Role::Agent);
    let t = id(&open(&app, &me, "Certificate", "Where do I download my certificate?").await);

    let (note, _) = say(
        &app,
        &agent,
        &t,
        json!({"body": "Checked: certificate not issued yet", "kind": "note"}),
    )
    .await;
    assert_eq!(note, 201);
    let ticket: Value = app.get_json(&format!("/v1/tickets/{t}"), &agent).await;
    assert!(ticket["first_response_at"].is_null(), "a note is not a response");

    let (reply, _) = say(&app, &agent, &t, json!({"body": "It will be issued on Friday."})).await;
    assert_eq!(reply, 201);
    let (update, _) = say(
        &app,
        &agent,
        &t,
        json!({"body": "Issued; check your inbox.", "kind": "progress_update"}),
    )
    .await;
    assert_eq!(update, 201);
    let ticket: Value = app.get_json(&format!("/v1/tickets/{t}"), &me).await;
    let first = ticket["first_response_at"].as_str().expect("stamped").to_owned();

    // A customer may not post notes.
    let (sneaky, _) = say(&app, &me, &t, json!({"body": "x", "kind": "note"})).await;
    assert_eq!(sneaky, 422);

    let seen_by = |token: String| {
        let app = &app;
        let t = t.clone();
        async move {
            let list: Value = app.get_json(&format!("/v1/tickets/{t}/messages"), &token).await;
            list["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|m| m["kind"].as_str().unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(seen_by(me.clone()).await, ["message", "progress_update"]);
    assert_eq!(seen_by(agent.clone()).await, ["note", "message", "progress_update"]);
    let stranger = app.token(Uuid::new_v4(), Role::Customer);
    let (hidden, _) = app.get_status(&format!("/v1/tickets/{t}/messages"), &stranger).await;
    assert_eq!(hidden, 404);

    let added = events(&app, &t, "intake.ticket.message_added").await;
    let firsts: Vec<bool> = added
        .iter()
        .map(|e| e["data"]["first_response"].as_bool().unwrap_or(false))
        .collect();
    assert_eq!(firsts, [false, true, false]);
    let again: Value = app.get_json(&format!("/v1/tickets/{t}"), &me).await;
    assert_eq!(again["first_response_at"], first.as_str(), "stamped once");
}

#[tokio::test]
async fn a_resolved_ticket_closes_itself_after_the_quiet_period() {
    let app = app_with(&[("INTAKE__SERVICE__AUTO_CLOSE_AFTER_HOURS", "0")]).await;
    let me = app.token(Uuid::new_v4(), Role::Customer);
    let agent = app.token(Uuid::new_v4(), Role::Agent);
    let t = id(&open(&app, &me, "Schedule", "When is the exam?").await);
    assert_eq!(act(&app, &agent, &t, "start").await.0, 200);
    assert_eq!(act(&app, &agent, &t, "resolve").await.0, 200);
    let pool = app.platform.pool.clone();
    testkit::eventually(10, "auto-closed", || async {
        let s: String = sqlx::query_scalar("SELECT status FROM ticket").fetch_one(&pool).await?;
        Ok((s == "closed").then_some(()))
    })
    .await
    .expect("closed");
    let last = events(&app, &t, "intake.ticket.status_changed").await;
    let last = last.last().expect("event");
    assert_eq!(last["data"]["action"], "close");
    assert_eq!(last["data"]["actor_id"], Uuid::nil().to_string());
}

#[tokio::test]
async fn a_customer_reopens_within_the_window_only() {
    let app = app().await;
    let me = app.token(Uuid::new_v4(), Role::Customer);
    let agent = app.token(Uuid::new_v4(), Role::Agent);
    let t = id(&open(&app, &me, "Video", "The replay video has no sound").await);
    assert_eq!(act(&app, &agent, &t, "start").await.0, 200);
    assert_eq!(act(&app, &agent, &t, "resolve").await.0, 200);
    assert_eq!(say(&app, &me, &t, json!({"body": "still broken"})).await.0, 409);
    let (status, reopened) = act(&app, &me, &t, "reopen").await;
    assert_eq!(status, 200);
    assert_eq!(reopened["status"], "queued");
    assert_eq!(reopened["reopen_count"], 1);
    assert_eq!(events(&app, &t, "intake.ticket.reopened").await.len(), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM scheduled_job WHERE kind = 'ticket.auto_close' AND status = 'pending'")
            .await,
        0,
        "reopening cancels the auto-close timer"
    );

    let late = app_with(&[("INTAKE__SERVICE__REOPEN_WINDOW_HOURS", "0")]).await;
    let me = late.token(Uuid::new_v4(), Role::Customer);
    let t = id(&open(&late, &me, "Video", "The replay video has no sound").await);
    let service = testkit::service_token(Uuid::new_v4(), &["tickets:write"]);
    assert_eq!(act(&late, &service, &t, "start").await.0, 200);
    assert_eq!(act(&late, &service, &t, "resolve").await.0, 200);
    let (status, problem) = act(&late, &me, &t, "reopen").await;
    assert_eq!(status, 409);
    assert!(
        problem["type"]
            .as_str()
            .is_some_and(|t| t.contains("reopen_window_passed")),
        "{problem}"
    );
}

#[tokio::test]
async fn routing_assignments_move_queued_tickets_to_their_agent() {
    use contracts::EventEnvelope;
    use contracts::routing::TicketAssignedV1;
    use contracts::vocabulary::Channel;
    let app = app().await;
    let customer = Uuid::new_v4();
    let token = app.token(customer, Role::Customer);
    let t = open(&app, &token, "课程表在哪里看", "请问下周的课程表在哪里可以看到？").await;
    assert_eq!(t["status"], "queued");
    let id: Uuid = t["id"].as_str().and_then(|s| s.parse().ok()).expect("id");
    let agent = Uuid::new_v4();
    let env = EventEnvelope::new(
        "routing",
        TicketAssignedV1 {
            ticket_id: id.into(),
            customer_id: customer.into(),
            agent_id: agent.into(),
            queue: "general".into(),
            channel: Channel::Web,
            tier: "junior".into(),
            how: "offer".into(),
            assigned_at: chrono::Utc::now(),
        },
    );
    for _ in 0..2 {
        app.publish(&env).await;
    }
    let staff = app.token(agent, Role::Agent);
    let ticket = testkit::eventually(10, "assigned", || async {
        let v = app.get_json(&format!("/v1/tickets/{id}"), &staff).await;
        Ok((v["status"] == "assigned").then_some(v))
    })
    .await
    .expect("assigned");
    assert_eq!(ticket["assignee_id"], agent.to_string());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let changes = app
        .count(&format!(
            "SELECT count(*) FROM outbox_event WHERE event_type = 'intake.ticket.status_changed' \
             AND envelope->'data'->>'ticket_id' = '{id}' AND envelope->'data'->>'to' = 'assigned' \
             AND envelope->'data'->>'assignee_id' = '{agent}'"
        ))
        .await;
    assert_eq!(changes, 1, "one change, naming the agent, for a redelivered assignment");
}
