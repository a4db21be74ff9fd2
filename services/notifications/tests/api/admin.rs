//! Rules and templates as data, previews, and who may change them.

use platform::auth::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{app, log_of, publish_event};

#[tokio::test]
async fn a_rule_added_over_the_api_turns_a_new_event_into_messages() {
    let app = app().await;
    let admin = app.token(Uuid::new_v4(), Role::Admin);
    let rule = json!({"event_type": "refund.refund.approved", "conditions": {"/method": "original"},
        "recipient": "/customer_id", "notification": "refund_approved", "channels": ["in_app"],
        "category": "refund", "urgency": "transactional"});
    let customer = app.token(Uuid::new_v4(), Role::Customer);
    assert_eq!(app.put_json("/v1/rules/refund-approved", &customer, &rule).await.0, 403);
    let (status, problem) = app
        .put_json(
            "/v1/rules/Refund!",
            &admin,
            &json!({"event_type": "x", "recipient": "customer_id",
            "notification": "n", "channels": ["fax"], "category": "c", "urgency": "whenever"}),
        )
        .await;
    assert_eq!(status, 422);
    let fields = testkit::problem_fields(&problem);
    for f in ["name", "event_type", "recipient", "channels", "urgency"] {
        assert!(fields.iter().any(|x| x == f), "{f} in {fields:?}");
    }
    assert_eq!(app.put_json("/v1/rules/refund-approved", &admin, &rule).await.0, 201);
    let t = json!({"subject": "退款已批准", "body": "您的退款 {{ amount }} 元已批准。", "sample": {"amount": "99.00"}});
    let template = "/v1/templates/refund_approved/in_app/zh-CN";
    assert_eq!(app.put_json(template, &admin, &t).await.0, 201);

    let who = Uuid::new_v4();
    publish_event(
        &app,
        "refund.refund.approved",
        json!({"customer_id": who, "amount": "120.50", "method": "original"}),
    )
    .await;
    publish_event(
        &app,
        "refund.refund.approved",
        json!({"customer_id": who, "amount": "1.00", "method": "voucher"}),
    )
    .await;
    let token = app.token(who, Role::Customer);
    let items = crate::inbox_items(&app, &token, 10, "the refund message").await;
    assert_eq!(items[0]["body"], "您的退款 120.50 元已批准。");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        crate::inbox_len(&app, &token).await,
        Some(1),
        "the condition filtered one"
    );
    let rules = app.get_json("/v1/rules", &admin).await;
    assert!(
        rules["items"]
            .as_array()
            .expect("rules")
            .iter()
            .any(|r| r["name"] == "sla-breached"),
        "seeded"
    );
    assert_eq!(app.delete_json("/v1/rules/refund-approved", &admin).await.0, 204);
    let later = publish_event(
        &app,
        "refund.refund.approved",
        json!({"customer_id": who, "amount": "2", "method": "original"}),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(log_of(&app, &format!("event_id={later}")).await.is_empty());
}

#[tokio::test]
async fn templates_are_versioned_previewed_and_refused_when_they_cannot_render() {
    let app = app().await;
    let admin = app.token(Uuid::new_v4(), Role::Admin);
    let v2 = json!({"subject": "收到啦 {{ ticket_id|ref }}", "body": "队列：{{ queue }}"});
    let (status, saved) = app
        .put_json("/v1/templates/ticket_received/in_app/zh-CN", &admin, &v2)
        .await;
    assert_eq!(status, 201);
    assert_eq!(saved["version"], 2);
    let versions = app.get_json("/v1/templates/ticket_received", &admin).await;
    let zh: Vec<&Value> = versions["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|t| t["locale"] == "zh-CN")
        .collect();
    assert_eq!(
        (zh.len(), zh[0]["version"].as_i64()),
        (2, Some(2)),
        "both kept, newest first"
    );

    let customer = Uuid::new_v4();
    publish_event(&app, "routing.ticket.queued", json!({"ticket_id": "0190f2a1-7c3b-7def-8123-456789abcdef",
        "customer_id": customer, "queue": "general", "channel": "web", "priority": "normal", "queued_at": chrono::Utc::now()})).await;
    let token = app.token(customer, Role::Customer);
    let items = crate::inbox_items(&app, &token, 10, "the message").await;
    assert_eq!(
        (items[0]["title"].as_str(), items[0]["body"].as_str()),
        (Some("收到啦 0190F2A1"), Some("队列：general"))
    );

    let (status, p) = app.post_json("/v1/templates/preview", &admin, &json!({"notification": "sla_breached", "channel": "email",
        "locale": "en", "data": {"ticket_id": "0190f2a1-7c3b-7def-8123-456789abcdef", "metric": "first_response", "escalated_to_tier": "mid"}})).await;
    assert_eq!(status, 200);
    assert_eq!(p["subject"], "Ticket 0190F2A1 missed its first response target");
    assert_eq!(p["locale"], "en");
    let (status, p) = app
        .post_json(
            "/v1/templates/preview",
            &admin,
            &json!({"notification": "survey_requested", "channel": "sms",
            "locale": "en", "data": {}, "draft": {"body": "{{ ticket.number.value }}"}}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(p["code"], "template_does_not_render");
    let runaway = json!({"subject": "s", "body": "{% for i in range(100000) %}0123456789{% endfor %}"});
    let (status, p) = app.put_json("/v1/templates/x/in_app/en", &admin, &runaway).await;
    assert_eq!(
        (status, testkit::problem_fields(&p)),
        (422, vec!["body".to_owned()]),
        "{p}"
    );
    let supervisor = app.token(Uuid::new_v4(), Role::Supervisor);
    let draft = json!({"notification": "x", "channel": "in_app", "locale": "en", "data": {}, "draft": {"body": "b"}});
    assert_eq!(app.post_json("/v1/templates/preview", &supervisor, &draft).await.0, 403);
    let broken = json!({"subject": "{{ oops", "body": "b"});
    assert_eq!(app.put_json("/v1/templates/x/in_app/en", &admin, &broken).await.0, 422);
    let unrenderable = json!({"subject": "s", "body": "{{ a.b }}", "sample": {"c": 1}});
    assert_eq!(
        app.put_json("/v1/templates/x/in_app/en", &admin, &unrenderable).await.0,
        422
    );
    let agent = app.token(Uuid::new_v4(), Role::Agent);
    assert_eq!(
        app.put_json("/v1/templates/x/in_app/en", &agent, &json!({"body": "b"}))
            .await
            .0,
        403
    );
    assert_eq!(app.get_status("/v1/rules", &agent).await.0, 403);
}

#[tokio::test]
async fn recipients_manage_only_their_own_preferences() {
    let app = app().await;
    let me = Uuid::new_v4();
    let token = app.token(me, Role::Customer);
    let (mine, _) = app.put_json(&format!("/v1/recipients/{me}"), &token,
        &json!({"email": "me@example.com", "locale": "en", "quiet_start": "22:00", "quiet_end": "07:30", "opt_outs": ["progress:email"]})).await;
    assert_eq!(mine, 200);
    let got = app.get_json(&format!("/v1/recipients/{me}"), &token).await;
    assert_eq!(
        (got["quiet_end"].as_str(), got["time_zone"].as_str()),
        (Some("07:30"), Some("Asia/Shanghai"))
    );
    // Another person's preferences are a 404: whether they exist is not told.
    let other = Uuid::new_v4();
    assert_eq!(app.get_status(&format!("/v1/recipients/{other}"), &token).await.0, 404);
    assert_eq!(
        app.put_json(&format!("/v1/recipients/{other}"), &token, &json!({}))
            .await
            .0,
        404
    );
    let (status, p) = app
        .put_json(
            &format!("/v1/recipients/{me}"),
            &token,
            &json!({"email": "nope", "phone": "12345",
            "time_zone": "Mars/Base", "quiet_start": "25:00", "opt_outs": ["everything"]}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(p["errors"].as_array().map(Vec::len), Some(6), "{p}");
    let unchanged = app.get_json(&format!("/v1/recipients/{me}"), &token).await;
    assert_eq!(unchanged["email"], "me@example.com", "a refused change changes nothing");
}

#[tokio::test]
async fn a_template_failing_on_real_data_fails_the_delivery_and_a_resend_after_the_fix_renders_again() {
    let app = app().await;
    let admin = app.token(Uuid::new_v4(), Role::Admin);
    let rule = json!({"event_type": "training.session.reminder", "recipient": "/customer_id",
        "notification": "session_reminder", "channels": ["in_app"], "category": "training", "urgency": "normal"});
    assert_eq!(app.put_json("/v1/rules/session-reminder", &admin, &rule).await.0, 201);
    let t = json!({"subject": "上课提醒", "body": "{{ session.title }} 即将开始", "sample": {"session": {"title": "Python"}}});
    let template = "/v1/templates/session_reminder/in_app/zh-CN";
    assert_eq!(app.put_json(template, &admin, &t).await.0, 201);
    let who = Uuid::new_v4();
    let event = publish_event(
        &app,
        "training.session.reminder",
        json!({"customer_id": who, "title": "Python 入门"}),
    )
    .await;
    let failed = crate::wait_status(&app, &format!("event_id={event}"), "in_app", "failed", 10).await;
    assert!(
        failed["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("session_reminder/in_app/zh-CN body"),
        "{failed}"
    );
    let token = app.token(who, Role::Customer);
    assert_eq!(crate::inbox_len(&app, &token).await, Some(0));
    let fixed = json!({"subject": "上课提醒", "body": "{{ title }} 即将开始"});
    assert_eq!(app.put_json(template, &admin, &fixed).await.0, 201);
    let id = failed["id"].as_str().expect("id");
    assert_eq!(
        crate::post_empty(&app, &format!("/v1/deliveries/{id}/resend"), &admin).await,
        202
    );
    crate::wait_status(&app, &format!("event_id={event}"), "in_app", "delivered", 10).await;
    let inbox = app.get_json("/v1/inbox", &token).await;
    assert_eq!(inbox["items"][0]["body"], "Python 入门 即将开始");
}

#[tokio::test]
async fn finished_deliveries_are_purged_after_the_retention_and_pending_ones_kept() {
    let app = app().await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let env = crate::queued(Uuid::new_v4());
        crate::publish(&app, &env, None).await;
        ids.push(env.id);
    }
    let (old, recent) = (ids[0], ids[1]);
    crate::wait_status(&app, &format!("event_id={recent}"), "in_app", "delivered", 10).await;
    crate::wait_status(&app, &format!("event_id={old}"), "in_app", "delivered", 10).await;
    let sender = app.token(Uuid::new_v4(), Role::Admin);
    let (_, later) = app.post_json("/v1/messages", &sender, &json!({"recipient_id": Uuid::new_v4(), "notification": "n",
        "channels": ["in_app"], "send_at": chrono::Utc::now() + chrono::Duration::days(30), "draft": {"body": "later"}})).await;
    let pool = &app.platform.pool;
    sqlx::query("UPDATE delivery SET created_at = now() - interval '200 days' WHERE event_id = ANY($1)")
        .bind(vec![
            old,
            later["id"].as_str().expect("id").parse::<Uuid>().expect("uuid"),
        ])
        .execute(pool)
        .await
        .expect("age");
    assert_eq!(
        notifications::core::retention::purge(pool, app.platform.clock.now(), 180, 1)
            .await
            .expect("purge"),
        1,
        "in batches of one"
    );
    assert!(log_of(&app, &format!("event_id={old}")).await.is_empty());
    assert_eq!(log_of(&app, &format!("event_id={recent}")).await.len(), 1);
    let kept = log_of(&app, &format!("event_id={}", later["id"].as_str().expect("id"))).await;
    assert_eq!(kept[0]["status"], "pending", "a pending delivery is never purged");
}
