//! Email, SMS and webhooks into local sinks that really receive; retries, failover, opt-outs,
//! quiet hours and digests.

use std::time::Duration;

use chrono::{Timelike, Utc};
use notifications::domain::webhook;
use platform::auth::Role;
use serde_json::{Value, json};
use testkit::TestApp;
use testkit::sinks::{HttpSink, SmtpSink};
use uuid::Uuid;

use crate::{env_with, log_of, post_empty, publish_event, set_prefs, wait_status};

struct Sinks {
    smtp: SmtpSink,
    smtp2: SmtpSink,
    sms: HttpSink,
}

async fn with_sinks(extra: &[(&str, &str)]) -> (TestApp, Sinks) {
    let (vars, sinks) = sink_vars(extra).await;
    (testkit::spawn(&notifications::SPEC, &vars).await.expect("spawn"), sinks)
}

async fn sink_vars(extra: &[(&str, &str)]) -> (std::collections::HashMap<String, String>, Sinks) {
    let sinks = Sinks {
        smtp: SmtpSink::start().await.expect("smtp"),
        smtp2: SmtpSink::start().await.expect("smtp2"),
        sms: HttpSink::start().await.expect("sms"),
    };
    let smtp = format!("smtp://127.0.0.1:{}", sinks.smtp.port());
    let smtp2 = format!("smtp://127.0.0.1:{}", sinks.smtp2.port());
    let sms = format!("{}/sms", sinks.sms.url());
    let mut settings = vec![
        ("SERVICE__EMAIL__PRIMARY__URL", smtp.as_str()),
        ("SERVICE__EMAIL__SECONDARY__URL", smtp2.as_str()),
        ("SERVICE__EMAIL__SECONDARY__FROM", "Backup <backup@example.com>"),
        ("SERVICE__EMAIL__SECONDARY__RATE_PER_SEC", "100"),
        ("SERVICE__SMS__PRIMARY__URL", sms.as_str()),
        ("SERVICE__RETRY_SCHEDULE_SECS", "1,1,1"),
        ("SERVICE__RETRY_JITTER", "0"),
        ("SERVICE__BREAKER_FAILURES", "2"),
        ("SERVICE__BREAKER_OPEN_SECS", "60"),
    ];
    settings.extend_from_slice(extra);
    (env_with(&settings).await, sinks)
}

fn survey(customer: Uuid, ticket: Uuid) -> Value {
    json!({"ticket_id": ticket, "customer_id": customer, "token": "tok123",
           "expires_at": Utc::now(), "requested_at": Utc::now()})
}

#[tokio::test]
async fn email_and_sms_are_received_once_in_the_recipients_language() {
    let (app, sinks) = with_sinks(&[]).await;
    let customer = Uuid::new_v4();
    set_prefs(
        &app,
        customer,
        json!({"email": "li@example.com", "phone": "+8613800138000", "locale": "en"}),
    )
    .await;
    let ticket = Uuid::parse_str("0190f2a1-7c3b-7def-8123-456789abcdef").expect("uuid");
    let env = json!({
        "specversion": "1.0", "id": Uuid::now_v7(), "source": "/intake", "type": "intake.survey.requested",
        "time": Utc::now(), "datacontenttype": "application/json", "dataschema": "urn:edu-support:intake.survey.requested:v1",
        "data": survey(customer, ticket),
    });
    app.publish_value("intake.survey.requested", &env).await;
    app.publish_value("intake.survey.requested", &env).await;
    let mails = sinks.smtp.wait_for(1, 15).await.expect("a mail");
    let mail = &mails[0];
    assert_eq!(mail.to, vec!["li@example.com".to_owned()]);
    assert_eq!(mail.header("Subject").as_deref(), Some("How did we do?"));
    assert!(mail.data.contains("multipart/alternative"), "{}", mail.data);
    assert!(mail.data.contains("text/html") && mail.data.contains("text/plain"));
    assert!(mail.data.contains("0190F2A1"), "the ticket reference is rendered");
    let sms = sinks.sms.wait_for(1, 15).await.expect("an sms");
    let body = sms[0].json();
    assert_eq!(body["to"], "+8613800138000");
    assert!(
        body["text"]
            .as_str()
            .unwrap_or_default()
            .contains("https://support.example.com/survey/tok123")
    );
    assert_eq!(sms[0].header("authorization").as_deref(), Some("Bearer development"));
    // The delivery id is the Message-ID and the SMS reference: stable across retries.
    let log = log_of(&app, &format!("event_id={}", env["id"].as_str().expect("id"))).await;
    assert_eq!(log.len(), 3, "in-app, email and SMS: {log:?}");
    let email = wait_status(
        &app,
        &format!("event_id={}", env["id"].as_str().expect("id")),
        "email",
        "delivered",
        10,
    )
    .await;
    assert_eq!(email["locale"], "en");
    let id = email["id"].as_str().expect("id");
    assert!(mail.header("Message-ID").unwrap_or_default().contains(id));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        (sinks.smtp.count(), sinks.sms.count()),
        (1, 1),
        "a redelivered event sends nothing twice"
    );
}

#[tokio::test]
async fn a_failing_sms_provider_is_retried_on_schedule_and_a_final_failure_can_be_resent() {
    // A breaker that stays closed, so every scheduled attempt reaches the provider.
    let (app, sinks) = with_sinks(&[("SERVICE__BREAKER_FAILURES", "100")]).await;
    let customer = Uuid::new_v4();
    set_prefs(
        &app,
        customer,
        json!({"phone": "+8613800138001", "opt_outs": ["survey:email"]}),
    )
    .await;
    sinks.sms.set_status(503);
    let event = publish_event(&app, "intake.survey.requested", survey(customer, Uuid::now_v7())).await;
    let q = format!("event_id={event}");
    // The failing provider holds up no other channel.
    wait_status(&app, &q, "in_app", "delivered", 5).await;
    // Four attempts one second apart, then failed and kept.
    let failed = wait_status(&app, &q, "sms", "failed", 20).await;
    assert_eq!(failed["attempts"], 4);
    assert!(
        failed["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("gave up after 4 attempts")
    );
    assert_eq!(sinks.sms.count(), 4);
    let suppressed = log_of(&app, &q).await.into_iter().find(|d| d["channel"] == "email");
    assert!(suppressed.is_none(), "no email address: nothing to suppress or send");
    let admin = app.token(Uuid::new_v4(), Role::Admin);
    let id = failed["id"].as_str().expect("id");
    let detail = app.get_json(&format!("/v1/deliveries/{id}"), &admin).await;
    let attempts = detail["attempts_log"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 4);
    assert!(
        attempts
            .iter()
            .all(|a| a["status_code"] == 503 && a["provider"] == "sms-primary")
    );
    assert_eq!(attempts[0]["outcome"], "retry");
    assert_eq!(attempts[3]["outcome"], "failed");

    sinks.sms.set_status(200);
    let agent = app.token(Uuid::new_v4(), Role::Agent);
    let resend = format!("/v1/deliveries/{id}/resend");
    assert_eq!(post_empty(&app, &resend, &agent).await, 403);
    assert_eq!(post_empty(&app, &resend, &admin).await, 202);
    let delivered = wait_status(&app, &q, "sms", "delivered", 10).await;
    assert_eq!(delivered["attempts"], 5);
    assert_eq!(sinks.sms.count(), 5);
    assert_eq!(
        post_empty(&app, &resend, &admin).await,
        409,
        "only failed deliveries are resent"
    );
    let by_recipient = log_of(&app, &format!("recipient_id={customer}&channel=sms&status=delivered")).await;
    assert_eq!(by_recipient.len(), 1);
}

#[tokio::test]
async fn a_paused_email_provider_fails_over_to_the_secondary() {
    let (app, sinks) = with_sinks(&[]).await;
    sinks.smtp.set_failing(true);
    let customer = Uuid::new_v4();
    set_prefs(&app, customer, json!({"email": "wang@example.com"})).await;
    for _ in 0..4 {
        let data = json!({"ticket_id": Uuid::now_v7(), "customer_id": customer, "resolved_by": Uuid::new_v4(),
                          "resolved_at": Utc::now(), "created_at": Utc::now()});
        publish_event(&app, "intake.ticket.resolved", data).await;
    }
    sinks.smtp2.wait_for(4, 15).await.expect("the secondary sent all four");
    assert_eq!(sinks.smtp.count(), 0);
    // The server has them; their outcomes are written once the batch's sends are done.
    let log = testkit::eventually(10, "four delivered", || async {
        let log = log_of(&app, &format!("recipient_id={customer}&channel=email&status=delivered")).await;
        Ok((log.len() == 4).then_some(log))
    })
    .await
    .expect("log");
    assert!(
        log.iter()
            .all(|d| d["provider"] == "smtp-secondary" && d["status"] == "delivered"),
        "{log:?}"
    );
    let mail = &sinks.smtp2.mails()[0];
    assert!(mail.header("From").unwrap_or_default().contains("backup@example.com"));
}

#[tokio::test]
async fn opt_outs_spare_transactional_messages_and_quiet_hours_hold_mail_until_morning() {
    let (app, sinks) = with_sinks(&[]).await;
    let customer = Uuid::new_v4();
    let local = Utc::now().with_timezone(&chrono_tz::Asia::Shanghai);
    let start = format!("{:02}:00", (local.hour() + 23) % 24);
    let end = format!("{:02}:00", (local.hour() + 2) % 24);
    set_prefs(
        &app,
        customer,
        json!({"email": "zhao@example.com", "phone": "+8613800138002", "opt_outs": ["survey:sms", "ticket:*"],
               "quiet_start": start, "quiet_end": end}),
    )
    .await;
    let event = publish_event(&app, "intake.survey.requested", survey(customer, Uuid::now_v7())).await;
    let q = format!("event_id={event}");
    let sms = wait_status(&app, &q, "sms", "suppressed", 10).await;
    assert!(sms["last_error"].as_str().unwrap_or_default().contains("opted out"));
    let email = wait_status(&app, &q, "email", "pending", 10).await;
    let due: chrono::DateTime<Utc> = email["next_attempt_at"].as_str().expect("due").parse().expect("time");
    let wait = due - Utc::now();
    assert!(
        wait > chrono::Duration::minutes(55) && wait < chrono::Duration::hours(3),
        "held until {due}"
    );
    wait_status(&app, &q, "in_app", "delivered", 5).await;
    // `ticket:*` does not silence a transactional message; quiet hours still hold its email.
    let data = json!({"ticket_id": Uuid::now_v7(), "customer_id": customer, "resolved_by": Uuid::new_v4(),
                      "resolved_at": Utc::now(), "created_at": Utc::now()});
    let resolved = publish_event(&app, "intake.ticket.resolved", data).await;
    wait_status(&app, &format!("event_id={resolved}"), "email", "pending", 10).await;
    // A digest holding an item that waits for the morning waits too.
    let progress = json!({"ticket_id": Uuid::now_v7(), "customer_id": customer, "message_id": Uuid::now_v7(),
        "author_role": "agent", "author_id": Uuid::new_v4(), "visibility": "public", "kind": "progress_update",
        "first_response": false, "added_at": Utc::now()});
    publish_event(&app, "intake.ticket.message_added", progress).await;
    let digest = testkit::eventually(10, "the digest", || async {
        Ok(
            log_of(&app, &format!("recipient_id={customer}&channel=email&status=pending"))
                .await
                .into_iter()
                .find(|d| d["kind"] == "digest"),
        )
    })
    .await
    .expect("digest");
    let due: chrono::DateTime<Utc> = digest["next_attempt_at"].as_str().expect("due").parse().expect("time");
    assert!(
        due - Utc::now() > chrono::Duration::minutes(55),
        "digest held until {due}"
    );
    // An urgent message ignores quiet hours.
    let supervisor = Uuid::new_v4();
    set_prefs(
        &app,
        supervisor,
        json!({"email": "boss@example.com", "quiet_start": start, "quiet_end": end}),
    )
    .await;
    let breach = json!({"ticket_id": Uuid::now_v7(), "customer_id": customer, "metric": "first_response",
        "policy": "default", "target_secs": 300, "due_at": Utc::now(), "agent_id": null,
        "supervisor_id": supervisor, "escalated_to_tier": null, "breached_at": Utc::now()});
    publish_event(&app, "routing.sla.breached", breach).await;
    let mails = sinks.smtp.wait_for(1, 10).await.expect("the urgent mail");
    assert_eq!(mails[0].to, vec!["boss@example.com".to_owned()]);
    assert_eq!(sinks.sms.count(), 0);
}

#[tokio::test]
async fn progress_updates_within_the_window_go_out_as_one_digest() {
    let (app, sinks) = with_sinks(&[]).await;
    let admin = app.token(Uuid::new_v4(), Role::Admin);
    let rule = json!({"event_type": "intake.ticket.message_added",
        "conditions": {"/visibility": "public", "/kind": "progress_update"}, "recipient": "/customer_id",
        "notification": "ticket_progress", "channels": ["in_app", "email"], "category": "progress",
        "urgency": "low", "digest_secs": 2});
    assert_eq!(app.put_json("/v1/rules/ticket-progress", &admin, &rule).await.0, 200);
    let customer = Uuid::new_v4();
    set_prefs(&app, customer, json!({"email": "sun@example.com", "locale": "en"})).await;
    let mut events = Vec::new();
    for _ in 0..3 {
        let data = json!({"ticket_id": Uuid::now_v7(), "customer_id": customer, "message_id": Uuid::now_v7(),
            "author_role": "agent", "author_id": Uuid::new_v4(), "visibility": "public", "kind": "progress_update",
            "first_response": false, "added_at": Utc::now()});
        events.push(publish_event(&app, "intake.ticket.message_added", data).await);
    }
    let mails = sinks.smtp.wait_for(1, 15).await.expect("one digest mail");
    assert_eq!(mails[0].header("Subject").as_deref(), Some("You have 3 new updates"));
    let token = app.token(customer, Role::Customer);
    let inbox = crate::inbox_items(&app, &token, 10, "the digest in the inbox").await;
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0]["kind"], "digest");
    assert_eq!(
        inbox[0]["body"]
            .as_str()
            .unwrap_or_default()
            .matches("Progress on ticket")
            .count(),
        3
    );
    let item = log_of(&app, &format!("event_id={}", events[0])).await;
    assert!(
        item.iter()
            .all(|d| d["status"] == "digested" && d["digest_id"].is_string()),
        "{item:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sinks.smtp.count(), 1);
}

#[tokio::test]
async fn webhooks_are_signed_rotated_and_a_gone_endpoint_is_disabled_and_its_owner_told() {
    let (app, _sinks) = with_sinks(&[]).await;
    let hook = HttpSink::start().await.expect("hook");
    let admin_id = Uuid::new_v4();
    let admin = app.token(admin_id, Role::Admin);
    let service = testkit::service_token(Uuid::new_v4(), &["webhooks:manage"]);
    let url = format!("{}/hooks/support", hook.url());
    let endpoint = json!({"url": url, "event_types": ["intake.*"], "description": "CRM"});
    // Loopback is refused unless an admin allows private addresses.
    let (status, body) = app.post_json("/v1/webhook-endpoints", &admin, &endpoint).await;
    assert_eq!(status, 422);
    assert!(body.to_string().contains("127.0.0.1"), "{body}");
    let mut private = endpoint.clone();
    private["allow_private"] = json!(true);
    assert_eq!(app.post_json("/v1/webhook-endpoints", &service, &private).await.0, 403);
    let meta = json!({"url": "ftp://x.example.com/", "event_types": ["intake.*"]});
    assert_eq!(app.post_json("/v1/webhook-endpoints", &admin, &meta).await.0, 422);
    let (status, created) = app.post_json("/v1/webhook-endpoints", &admin, &private).await;
    assert_eq!(status, 201);
    let secret = webhook::Secret::parse(created["secret"].as_str().expect("secret")).expect("whsec");
    let endpoint_id = created["id"].as_str().expect("id").to_owned();

    let data = json!({"ticket_id": Uuid::now_v7(), "customer_id": Uuid::new_v4(), "channel": "web",
        "subject": "Cannot log in", "priority": "normal", "created_at": Utc::now()});
    let event = publish_event(&app, "intake.ticket.created", data.clone()).await;
    let got = hook.wait_for(1, 10).await.expect("a webhook");
    let req = &got[0];
    assert_eq!(req.path, "/hooks/support");
    assert_eq!(req.json()["id"], event.to_string());
    assert_eq!(req.json()["type"], "intake.ticket.created");
    let msg_id = req.header("webhook-id").expect("id");
    let ts: i64 = req.header("webhook-timestamp").expect("ts").parse().expect("int");
    let sig = req.header("webhook-signature").expect("signature");
    webhook::verify(&msg_id, ts, &req.body, &sig, &secret, Utc::now().timestamp(), 300).expect("valid signature");

    let rotated = app
        .post(&format!("/v1/webhook-endpoints/{endpoint_id}/rotate-secret"), &admin)
        .send()
        .await
        .expect("rotate");
    assert_eq!(rotated.status(), 200);
    let rotated: Value = rotated.json().await.expect("json");
    let new_secret = webhook::Secret::parse(rotated["secret"].as_str().expect("secret")).expect("whsec");
    publish_event(&app, "intake.ticket.created", data.clone()).await;
    let got = hook.wait_for(2, 10).await.expect("second webhook");
    let req = &got[1];
    let sig = req.header("webhook-signature").expect("signature");
    assert_eq!(
        sig.split(' ').count(),
        2,
        "old and new secrets both sign during the overlap"
    );
    let (id, ts) = (
        req.header("webhook-id").expect("id"),
        req.header("webhook-timestamp").expect("ts").parse().expect("ts"),
    );
    webhook::verify(&id, ts, &req.body, &sig, &secret, Utc::now().timestamp(), 300).expect("old secret");
    webhook::verify(&id, ts, &req.body, &sig, &new_secret, Utc::now().timestamp(), 300).expect("new secret");

    hook.set_status(410);
    let gone = publish_event(&app, "intake.ticket.created", data.clone()).await;
    let failed = wait_status(&app, &format!("event_id={gone}"), "webhook", "failed", 10).await;
    assert!(failed["last_error"].as_str().unwrap_or_default().contains("410"));
    let after = app
        .get_json(&format!("/v1/webhook-endpoints/{endpoint_id}"), &admin)
        .await;
    assert_eq!(after["enabled"], false);
    assert!(after["disabled_reason"].as_str().unwrap_or_default().contains("410"));
    let owner_inbox = app.get_json("/v1/inbox", &admin).await;
    assert_eq!(owner_inbox["items"][0]["kind"], "endpoint_disabled");
    let quiet = publish_event(&app, "intake.ticket.created", data).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        log_of(&app, &format!("event_id={quiet}")).await.is_empty(),
        "a disabled endpoint gets nothing"
    );
    assert_eq!(hook.count(), 3);
}

#[tokio::test]
async fn an_endpoint_failing_for_too_long_is_disabled_and_its_owner_told() {
    // Zero hours: the first failure after the first one's record is already too long.
    let (app, _sinks) = with_sinks(&[("SERVICE__ENDPOINT_DISABLE_AFTER_HOURS", "0")]).await;
    let hook = HttpSink::start().await.expect("hook");
    hook.set_status(500);
    let owner = Uuid::new_v4();
    let admin = app.token(Uuid::new_v4(), Role::Admin);
    let endpoint = json!({"url": hook.url(), "event_types": ["routing.sla.*"],
        "allow_private": true, "owner_id": owner});
    let (status, created) = app.post_json("/v1/webhook-endpoints", &admin, &endpoint).await;
    assert_eq!(status, 201);
    let id = created["id"].as_str().expect("id").to_owned();
    let breach = json!({"ticket_id": Uuid::now_v7(), "customer_id": Uuid::new_v4(), "metric": "resolution",
        "policy": "default", "target_secs": 60, "due_at": Utc::now(), "agent_id": null, "supervisor_id": null,
        "escalated_to_tier": null, "breached_at": Utc::now()});
    publish_event(&app, "routing.sla.breached", breach).await;
    let token = app.token(owner, Role::Service);
    let told = crate::inbox_items(&app, &token, 15, "the owner told").await;
    assert_eq!(told[0]["kind"], "endpoint_disabled");
    let e = app.get_json(&format!("/v1/webhook-endpoints/{id}"), &admin).await;
    assert_eq!(e["enabled"], false);
    assert!(
        e["disabled_reason"]
            .as_str()
            .unwrap_or_default()
            .contains("failing since"),
        "{e}"
    );
    assert!(hook.count() >= 1);
    // Re-enabled by an admin, it gets events again.
    hook.set_status(200);
    let again = json!({"url": hook.url(), "event_types": ["routing.sla.*"], "allow_private": true, "enabled": true});
    let (status, res) = app
        .put_json(&format!("/v1/webhook-endpoints/{id}"), &admin, &again)
        .await;
    assert_eq!(status, 200);
    assert_eq!(res["failing_since"], Value::Null);
}

#[tokio::test]
async fn scheduled_sends_go_out_once_across_two_replicas() {
    let (vars, sinks) = sink_vars(&[]).await;
    let a = testkit::spawn(&notifications::SPEC, &vars).await.expect("replica a");
    let b = testkit::spawn(&notifications::SPEC, &vars).await.expect("replica b");
    let sender = a.token(Uuid::new_v4(), Role::Admin);
    let at = Utc::now() + chrono::Duration::seconds(2);
    let mut expected = Vec::new();
    for i in 0..60 {
        let who = Uuid::new_v4();
        set_prefs(&a, who, json!({"email": format!("p{i}@example.com")})).await;
        let app = if i % 2 == 0 { &a } else { &b };
        let send = json!({"recipient_id": who, "notification": "notice",
            "channels": ["email"], "send_at": at, "draft": {"subject": "Notice {{ n }}", "body": "Number {{ n }}"},
            "data": {"n": i}});
        let (status, body) = app.post_json("/v1/messages", &sender, &send).await;
        assert_eq!(status, 202);
        expected.push(body["deliveries"][0]["id"].as_str().expect("id").to_owned());
    }
    let mails = sinks.smtp.wait_for(60, 20).await.expect("all sent");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mails = if sinks.smtp.count() > mails.len() {
        sinks.smtp.mails()
    } else {
        mails
    };
    assert_eq!(mails.len(), 60, "each scheduled send went out once");
    let ids: std::collections::HashSet<String> = mails.iter().filter_map(|m| m.header("Message-ID")).collect();
    assert_eq!(ids.len(), 60);
    assert!(expected.iter().all(|id| ids.iter().any(|m| m.contains(id.as_str()))));
}
