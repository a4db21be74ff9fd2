//! Intake's time rules read the service's clock: with a manual clock they are tested by moving
//! it, not by waiting.

use chrono::{DateTime, Duration, Utc};
use platform::auth::Role;
use serde_json::Value;
use testkit::TestApp;
use uuid::Uuid;

use super::{act, app_with, open, walk};

fn id(t: &Value) -> String {
    t["id"].as_str().expect("id").to_owned()
}

async fn status(app: &TestApp, id: &str) -> String {
    sqlx::query_scalar("SELECT status FROM ticket WHERE id = $1::uuid")
        .bind(id)
        .fetch_one(&app.platform.pool)
        .await
        .expect("status")
}

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("a time: {v}"))
}

#[tokio::test]
async fn a_resolved_ticket_closes_itself_once_the_clock_passes_the_quiet_period() {
    let app = app_with(&[("CLOCK__MODE", "manual"), ("CLOCK__START", "2026-09-01T08:00:00Z")]).await;
    let clock = app.platform.clock.clone();
    let me = app.token(Uuid::new_v4(), Role::Customer);
    let agent = app.token(Uuid::new_v4(), Role::Agent);
    let t = open(&app, &me, "Schedule", "When is the exam?").await;
    assert_eq!(at(&t["created_at"]), clock.now(), "stamped by the service's clock");
    let t = id(&t);
    walk(&app, &agent, &t, &["start"]).await;
    let (_, resolved) = act(&app, &agent, &t, "resolve").await;
    assert_eq!(at(&resolved["resolved_at"]), clock.now());

    // A minute short of the 72 hours: the timer is not due, the ticket stays resolved.
    clock
        .advance(Duration::hours(72) - Duration::minutes(1))
        .expect("advance");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(status(&app, &t).await, "resolved");

    clock.advance(Duration::minutes(2)).expect("advance");
    testkit::eventually(10, "auto-closed", || async {
        Ok((status(&app, &t).await == "closed").then_some(()))
    })
    .await
    .expect("closed");
    let closed: Value = app.get_json(&format!("/v1/tickets/{t}"), &agent).await;
    assert_eq!(at(&closed["closed_at"]), clock.now(), "closed at the clock's time");
}

#[tokio::test]
async fn the_reopen_window_survey_links_and_follow_ups_follow_the_clock() {
    let app = app_with(&[
        ("CLOCK__MODE", "manual"),
        ("CLOCK__START", "2026-09-01T08:00:00Z"),
        // Not closed by itself while the window is tested.
        ("SERVICE__AUTO_CLOSE_AFTER_HOURS", "1000"),
    ])
    .await;
    let clock = app.platform.clock.clone();
    let me = app.token(Uuid::new_v4(), Role::Customer);
    let agent = app.token(Uuid::new_v4(), Role::Agent);
    let t = id(&open(&app, &me, "摄像头打不开", "上课时摄像头打不开，黑屏").await);
    walk(&app, &agent, &t, &["start", "resolve"]).await;

    // The follow-up visit is due 24 hours after the resolution, by the clock.
    let due_now = app.get_json("/v1/follow-ups?due=true", &agent).await;
    assert_eq!(due_now["items"].as_array().map(Vec::len), Some(0), "{due_now}");
    clock.advance(Duration::hours(24)).expect("advance");
    let due_now = app.get_json("/v1/follow-ups?due=true", &agent).await;
    assert_eq!(due_now["items"].as_array().map(Vec::len), Some(1), "{due_now}");

    // Within the 168-hour window: the customer may reopen.
    clock
        .advance(Duration::hours(167) - Duration::hours(24))
        .expect("advance");
    let (code, reopened) = act(&app, &me, &t, "reopen").await;
    assert_eq!(code, 200, "{reopened}");
    walk(&app, &agent, &t, &["start", "resolve"]).await;

    // Past the window, counted from the new resolution: refused.
    clock
        .advance(Duration::hours(168) + Duration::seconds(1))
        .expect("advance");
    let (code, problem) = act(&app, &me, &t, "reopen").await;
    assert_eq!(code, 409, "{problem}");
    assert!(
        problem["type"]
            .as_str()
            .is_some_and(|t| t.contains("reopen_window_passed")),
        "{problem}"
    );
    assert_eq!(status(&app, &t).await, "resolved");

    // The survey link (14 days) expired by the clock, not by waiting.
    let token: String = sqlx::query_scalar(
        "SELECT envelope->'data'->>'token' FROM outbox_event WHERE event_type = 'intake.survey.requested' \
         AND envelope->>'subject' = $1",
    )
    .bind(&t)
    .fetch_one(&app.platform.pool)
    .await
    .expect("survey requested");
    let survey = |token: String| {
        let app = &app;
        async move {
            app.client
                .get(format!("{}/v1/surveys/{token}", app.url))
                .send()
                .await
                .expect("get")
                .status()
        }
    };
    assert_eq!(survey(token.clone()).await, 200);
    clock.advance(Duration::days(14)).expect("advance");
    assert_eq!(survey(token).await, 410);
}
