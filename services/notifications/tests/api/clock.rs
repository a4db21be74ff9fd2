//! Every time rule follows the service's clock: with `clock.mode = "manual"` the clock stands
//! still (here at a fixed time years away from the wall clock) and only moving it makes a
//! scheduled send due, a retry come round, an endpoint fail for "too long" or a delivery old
//! enough to purge. Nothing waits in real time beyond the dispatchers' polling.

use std::time::Duration;

use chrono::{DateTime, Utc};
use platform::auth::Role;
use serde_json::{Value, json};
use testkit::TestApp;
use testkit::sinks::HttpSink;
use uuid::Uuid;

use crate::{env_with, log_of, publish_event, set_prefs, wait_status};

/// Where the manual clock starts: far from the wall clock, so a rule reading the system time
/// (or the database's `now()`) would show.
const START: &str = "2031-03-02T08:00:00Z";

fn start() -> DateTime<Utc> {
    START.parse().expect("start")
}

/// The service on a manual clock at [`START`], with `extra` settings.
async fn manual(extra: &[(&str, &str)]) -> TestApp {
    let mut settings = vec![("CLOCK__MODE", "manual"), ("CLOCK__START", START)];
    settings.extend_from_slice(extra);
    testkit::spawn(&notifications::SPEC, &env_with(&settings).await)
        .await
        .expect("spawn")
}

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a timestamp: {v}"))
}

/// A few idle polls of the dispatchers (50 ms apart), in real time.
async fn a_few_polls() {
    tokio::time::sleep(Duration::from_millis(600)).await;
}

#[tokio::test]
async fn a_scheduled_send_goes_out_when_the_clock_reaches_its_time_not_before() {
    let app = manual(&[]).await;
    let clock = &app.platform.clock;
    assert_eq!(clock.now(), start());
    let sender = app.token(Uuid::new_v4(), Role::Admin);
    let who = Uuid::new_v4();
    let token = app.token(who, Role::Customer);
    let due = start() + chrono::Duration::hours(2);
    let send = json!({"recipient_id": who, "notification": "class_reminder", "channels": ["in_app"],
        "send_at": due, "draft": {"subject": "上课提醒", "body": "两小时后上课。"}});
    let (status, sent) = app.post_json("/v1/messages", &sender, &send).await;
    assert_eq!(status, 202, "{sent}");
    assert_eq!(sent["deliveries"][0]["status"], "pending");
    assert_eq!(at(&sent["deliveries"][0]["next_attempt_at"]), due);
    assert_eq!(
        at(&sent["deliveries"][0]["created_at"]),
        start(),
        "written at the clock's time"
    );
    let q = format!("event_id={}", sent["id"].as_str().expect("id"));

    a_few_polls().await;
    clock
        .advance(chrono::Duration::hours(2) - chrono::Duration::seconds(1))
        .expect("advance");
    a_few_polls().await;
    assert_eq!(log_of(&app, &q).await[0]["status"], "pending", "one second early");
    assert_eq!(crate::inbox_len(&app, &token).await, Some(0));

    clock.advance(chrono::Duration::seconds(1)).expect("advance");
    let delivered = wait_status(&app, &q, "in_app", "delivered", 10).await;
    assert_eq!(at(&delivered["sent_at"]), due, "sent at the clock's time");
    let inbox = app.get_json("/v1/inbox", &token).await;
    assert_eq!(inbox["items"][0]["body"], "两小时后上课。");
    assert_eq!(at(&inbox["items"][0]["created_at"]), due);
    // Too far ahead is measured from the clock too: a year from START, not from today.
    let too_far = json!({"recipient_id": who, "notification": "n", "channels": ["in_app"],
        "send_at": start() + chrono::Duration::days(400), "draft": {"body": "x"}});
    assert_eq!(app.post_json("/v1/messages", &sender, &too_far).await.0, 422);
    let next_year = json!({"recipient_id": who, "notification": "n", "channels": ["in_app"],
        "send_at": start() + chrono::Duration::days(300), "draft": {"body": "x"}});
    assert_eq!(app.post_json("/v1/messages", &sender, &next_year).await.0, 202);
}

#[tokio::test]
async fn a_failed_sms_is_retried_when_the_clock_has_moved_by_the_retry_delay() {
    let sms = HttpSink::start().await.expect("sms");
    let url = format!("{}/sms", sms.url());
    let app = manual(&[
        ("SERVICE__SMS__PRIMARY__URL", url.as_str()),
        ("SERVICE__RETRY_SCHEDULE_SECS", "600,600,600"),
        ("SERVICE__RETRY_JITTER", "0"),
        ("SERVICE__BREAKER_FAILURES", "100"),
    ])
    .await;
    let clock = &app.platform.clock;
    let who = Uuid::new_v4();
    set_prefs(&app, who, json!({"phone": "+8613800138002"})).await;
    sms.set_status(503);
    let sender = app.token(Uuid::new_v4(), Role::Admin);
    let send = json!({"recipient_id": who, "notification": "notice", "channels": ["sms"],
        "draft": {"body": "Your class starts soon."}});
    let (status, sent) = app.post_json("/v1/messages", &sender, &send).await;
    assert_eq!(status, 202, "{sent}");
    let q = format!("event_id={}", sent["id"].as_str().expect("id"));
    sms.wait_for(1, 10).await.expect("the first attempt");
    let pending = testkit::eventually(10, "the first attempt settled", || async {
        Ok(log_of(&app, &q)
            .await
            .into_iter()
            .find(|d| d["attempts"] == 1 && d["status"] == "pending"))
    })
    .await
    .expect("settled");
    assert_eq!(
        at(&pending["next_attempt_at"]),
        start() + chrono::Duration::seconds(600),
        "the retry is due on the clock"
    );

    // Real time passes, the clock does not: no second attempt.
    a_few_polls().await;
    assert_eq!(sms.count(), 1);
    clock.advance(chrono::Duration::seconds(599)).expect("advance");
    a_few_polls().await;
    assert_eq!(sms.count(), 1, "one second early");

    clock.advance(chrono::Duration::seconds(1)).expect("advance");
    sms.wait_for(2, 10).await.expect("the second attempt");
    testkit::eventually(10, "the second attempt settled", || async {
        Ok(log_of(&app, &q)
            .await
            .into_iter()
            .find(|d| d["attempts"] == 2 && d["status"] == "pending"))
    })
    .await
    .expect("settled");
    sms.set_status(200);
    clock.advance(chrono::Duration::seconds(600)).expect("advance");
    let delivered = wait_status(&app, &q, "sms", "delivered", 10).await;
    assert_eq!(delivered["attempts"], 3);
    assert_eq!(at(&delivered["sent_at"]), start() + chrono::Duration::seconds(1200));
    let admin = app.token(Uuid::new_v4(), Role::Admin);
    let id = delivered["id"].as_str().expect("id");
    let detail = app.get_json(&format!("/v1/deliveries/{id}"), &admin).await;
    let times: Vec<DateTime<Utc>> = detail["attempts_log"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| at(&a["at"]))
        .collect();
    assert_eq!(
        times,
        [0, 600, 1200].map(|s| start() + chrono::Duration::seconds(s)),
        "each attempt logged at the clock's time"
    );
    assert_eq!(sms.count(), 3);
}

#[tokio::test]
async fn an_endpoint_is_disabled_after_failing_for_the_configured_hours_on_the_clock() {
    let app = manual(&[
        ("SERVICE__RETRY_SCHEDULE_SECS", "60,60,60,60"),
        ("SERVICE__RETRY_JITTER", "0"),
        ("SERVICE__BREAKER_FAILURES", "100"),
        ("SERVICE__ENDPOINT_DISABLE_AFTER_HOURS", "72"),
    ])
    .await;
    let clock = &app.platform.clock;
    let hook = HttpSink::start().await.expect("hook");
    hook.set_status(500);
    let owner = Uuid::new_v4();
    let admin = app.token(Uuid::new_v4(), Role::Admin);
    let endpoint = json!({"url": hook.url(), "event_types": ["routing.sla.*"],
        "allow_private": true, "owner_id": owner});
    let (status, created) = app.post_json("/v1/webhook-endpoints", &admin, &endpoint).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(at(&created["created_at"]), start());
    let id = created["id"].as_str().expect("id").to_owned();
    let breach = json!({"ticket_id": Uuid::now_v7(), "customer_id": Uuid::new_v4(), "metric": "resolution",
        "policy": "default", "target_secs": 60, "due_at": start(), "agent_id": null, "supervisor_id": null,
        "escalated_to_tier": null, "breached_at": start()});
    publish_event(&app, "routing.sla.breached", breach).await;
    hook.wait_for(1, 15).await.expect("the first attempt");
    let failing = testkit::eventually(10, "the failure recorded", || async {
        let e = app.get_json(&format!("/v1/webhook-endpoints/{id}"), &admin).await;
        Ok((!e["failing_since"].is_null()).then_some(e))
    })
    .await
    .expect("failing");
    assert_eq!(at(&failing["failing_since"]), start(), "failing since the clock's time");

    // A retry a minute later fails again: failing for a minute, still enabled.
    clock.advance(chrono::Duration::seconds(60)).expect("advance");
    hook.wait_for(2, 10).await.expect("the second attempt");
    a_few_polls().await;
    let e = app.get_json(&format!("/v1/webhook-endpoints/{id}"), &admin).await;
    assert_eq!(e["enabled"], true, "{e}");

    // Three days later by the clock, the next failure disables it and its owner is told.
    clock.advance(chrono::Duration::hours(72)).expect("advance");
    hook.wait_for(3, 10).await.expect("the third attempt");
    let token = app.token(owner, Role::Service);
    let told = crate::inbox_items(&app, &token, 10, "the owner told").await;
    assert_eq!(told[0]["kind"], "endpoint_disabled");
    assert_eq!(
        at(&told[0]["created_at"]),
        start() + chrono::Duration::seconds(60) + chrono::Duration::hours(72)
    );
    let e = app.get_json(&format!("/v1/webhook-endpoints/{id}"), &admin).await;
    assert_eq!(e["enabled"], false);
    assert!(
        e["disabled_reason"].as_str().unwrap_or_default().contains("72 hours"),
        "{e}"
    );
}

#[tokio::test]
async fn retention_ages_deliveries_by_the_clock() {
    let app = manual(&[]).await;
    let clock = &app.platform.clock;
    let sender = app.token(Uuid::new_v4(), Role::Admin);
    let (status, sent) = app
        .post_json(
            "/v1/messages",
            &sender,
            &json!({"recipient_id": Uuid::new_v4(), "notification": "n", "channels": ["in_app"],
                "draft": {"body": "now"}}),
        )
        .await;
    assert_eq!(status, 202, "{sent}");
    assert_eq!(sent["deliveries"][0]["status"], "delivered");
    let q = format!("event_id={}", sent["id"].as_str().expect("id"));
    let pool = &app.platform.pool;
    let purge = || notifications::core::retention::purge(pool, clock.now(), 180, 100);
    clock.advance(chrono::Duration::days(180)).expect("advance");
    assert_eq!(purge().await.expect("purge"), 0, "exactly 180 days old is kept");
    assert_eq!(log_of(&app, &q).await.len(), 1);
    clock.advance(chrono::Duration::seconds(1)).expect("advance");
    assert_eq!(purge().await.expect("purge"), 1);
    assert!(log_of(&app, &q).await.is_empty());
}
