//! Events: each step stages its event in the step's own transaction, numbered per request
//! (`subjectseq`), and the relay publishes them.

use platform::auth::Role;
use serde_json::{Value, json};
use testkit::TestApp;
use uuid::Uuid;

use super::{QUOTE, agent, app, enrol, enrol_with, enrolment, file_ok, id, step, supervisor, t0};

/// `(type, subjectseq, data)` of every event about request `r`, in the order staged.
async fn events(app: &TestApp, r: &str) -> Vec<(String, Option<i64>, Value)> {
    sqlx::query_as(
        "SELECT event_type, (envelope->>'subjectseq')::bigint, envelope->'data' FROM outbox_event \
         WHERE envelope->>'subject' = $1 ORDER BY id",
    )
    .bind(r)
    .fetch_all(&app.platform.pool)
    .await
    .expect("events")
}

fn kinds(events: &[(String, Option<i64>, Value)]) -> Vec<(&str, Option<i64>)> {
    events.iter().map(|(t, s, _)| (t.as_str(), *s)).collect()
}

#[tokio::test]
async fn filing_and_each_decision_stage_their_events_in_order() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let me = app.token(customer, Role::Customer);
    let e = enrol(&app, customer, 30).await;
    let r = id(&file_ok(&app, &me, &e, "schedule").await);
    assert_eq!(step(&app, &agent(), &r, "review", None).await.0, 200);
    let approver = Uuid::new_v4();
    let (status, _) = step(
        &app,
        &app.token(approver, Role::Agent),
        &r,
        "approve",
        Some(json!({"amount_minor": 100_000, "note": "ok"})),
    )
    .await;
    assert_eq!(status, 200);
    let got = events(&app, &r).await;
    assert_eq!(
        kinds(&got),
        [
            ("refund.request.submitted", Some(1)),
            ("refund.request.quoted", Some(2)),
            ("refund.request.approved", Some(3)),
        ],
        "review publishes nothing"
    );
    let (submitted, quoted, approved) = (&got[0].2, &got[1].2, &got[2].2);
    assert_eq!(submitted["status"], "requested");
    assert_eq!(submitted["amount_minor"], QUOTE);
    assert_eq!(submitted["actor_id"], customer.to_string());
    assert_eq!(submitted["customer_id"], customer.to_string());
    assert_eq!(submitted["enrolment_id"], e);
    assert_eq!(submitted["course_id"], "python-101");
    assert_eq!(submitted["currency"], "CNY");
    assert_eq!(submitted["policy_version"], 0);
    assert_eq!(submitted["at"], json!(t0()));
    assert_eq!(
        (quoted["amount_minor"].as_i64(), quoted.get("actor_id")),
        (Some(QUOTE), None)
    );
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["amount_minor"], 100_000);
    assert_eq!(approved["actor_id"], approver.to_string());
    assert_eq!(approved["note"], "ok");
    let version = app
        .count(&format!("SELECT version FROM refund_request WHERE id = '{r}'"))
        .await;
    assert_eq!(version, 3);

    let r = id(&file_ok(&app, &me, &enrol(&app, customer, 30).await, "teacher").await);
    step(
        &app,
        &supervisor(),
        &r,
        "reject",
        Some(json!({"note": "课程已按计划完成"})),
    )
    .await;
    let got = events(&app, &r).await;
    assert_eq!(kinds(&got)[2], ("refund.request.rejected", Some(3)));
    assert_eq!(
        (got[2].2["status"].as_str(), got[2].2["note"].as_str()),
        (Some("rejected"), Some("课程已按计划完成"))
    );

    let r = id(&file_ok(&app, &me, &enrol(&app, customer, 30).await, "teacher").await);
    step(&app, &me, &r, "cancel", None).await;
    let got = events(&app, &r).await;
    assert_eq!(kinds(&got)[2], ("refund.request.cancelled", Some(3)));
    assert_eq!(got[2].2["status"], "cancelled");
}

#[tokio::test]
async fn an_automatic_approval_is_published_with_the_filing_and_the_relay_sends_them() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let mut small = enrolment(customer, 3);
    small["paid_minor"] = json!(60_000);
    let e = enrol_with(&app, &small).await;
    let r = id(&file_ok(&app, &app.token(customer, Role::Customer), &e, "schedule").await);
    let got = events(&app, &r).await;
    assert_eq!(
        kinds(&got),
        [
            ("refund.request.submitted", Some(1)),
            ("refund.request.quoted", Some(2)),
            ("refund.request.approved", Some(3)),
        ]
    );
    assert_eq!(got[0].2["status"], "requested", "as filed");
    assert_eq!(got[1].2["in_cooling_off"], true);
    assert_eq!(got[2].2["status"], "approved");
    assert_eq!(got[2].2["amount_minor"], 60_000);
    assert_eq!(got[2].2.get("actor_id"), None, "approved by nobody");
    testkit::eventually(10, "the relay published them", || async {
        let unpublished = app
            .count(&format!(
                "SELECT count(*) FROM outbox_event WHERE envelope->>'subject' = '{r}' AND published_at IS NULL"
            ))
            .await;
        Ok((unpublished == 0).then_some(()))
    })
    .await
    .expect("published");
}
