//! The workflow: review, approve, reject, cancel; automatic approval in the cooling-off period;
//! supervisors for special cases; four eyes; one decision however many try at once.

use chrono::Duration;
use platform::auth::Role;
use serde_json::{Value, json};
use testkit::TestApp;
use uuid::Uuid;

use super::{QUOTE, agent, app, enrol, enrol_with, enrolment, file, file_ok, id, step, supervisor, t0};

/// The request as stored now (read by the desk).
async fn current(app: &TestApp, r: &str) -> Value {
    app.get_json(&format!("/v1/refund-requests/{r}"), &agent()).await
}

#[tokio::test]
async fn one_agent_reviews_and_another_approves() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let e = enrol(&app, customer, 30).await;
    let r = id(&file_ok(&app, &app.token(customer, Role::Customer), &e, "schedule").await);
    let reviewer = Uuid::new_v4();
    let reviewer_token = app.token(reviewer, Role::Agent);
    let (status, reviewed) = step(&app, &reviewer_token, &r, "review", None).await;
    assert_eq!(status, 200, "{reviewed}");
    assert_eq!(reviewed["status"], "under_review");
    assert_eq!(reviewed["reviewed_by"], reviewer.to_string());
    assert_eq!(reviewed["reviewed_at"], json!(t0()));

    app.platform.clock.advance(Duration::hours(2)).expect("advance");
    let approver = Uuid::new_v4();
    let (status, approved) = step(
        &app,
        &app.token(approver, Role::Agent),
        &r,
        "approve",
        Some(json!({"note": "课程时间冲突属实"})),
    )
    .await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["approved_minor"], QUOTE);
    assert_eq!(approved["decided_by"], approver.to_string());
    assert_eq!(approved["decided_at"], json!(t0() + Duration::hours(2)));
    assert_eq!(approved["decision_note"], "课程时间冲突属实");
    assert_eq!(current(&app, &r).await, approved);
}

#[tokio::test]
async fn a_rejection_says_why_and_an_illegal_move_is_a_409_that_changes_nothing() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let me = app.token(customer, Role::Customer);
    let e = enrol(&app, customer, 30).await;
    let r = id(&file_ok(&app, &me, &e, "teacher").await);
    let (status, problem) = step(&app, &agent(), &r, "reject", Some(json!({"note": "  "}))).await;
    assert_eq!(
        (status, testkit::problem_fields(&problem)),
        (422, vec!["note".to_owned()])
    );
    let (status, rejected) = step(
        &app,
        &agent(),
        &r,
        "reject",
        Some(json!({"note": "老师已更换，课程继续"})),
    )
    .await;
    assert_eq!(status, 200, "{rejected}");
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["approved_minor"], Value::Null);

    let trail = format!("SELECT count(*) FROM refund_audit WHERE request_id = '{r}'");
    let audited = app.count(&trail).await;
    for (token, move_, body) in [
        (agent(), "review", None),
        (supervisor(), "approve", Some(json!({}))),
        (agent(), "reject", Some(json!({"note": "again"}))),
        (me.clone(), "cancel", None),
    ] {
        let (status, problem) = step(&app, &token, &r, move_, body).await;
        assert_eq!(status, 409, "{move_}: {problem}");
        assert_eq!(problem["code"], "illegal_move");
        assert!(
            problem["detail"].as_str().is_some_and(|d| d.contains("rejected")),
            "{problem}"
        );
    }
    assert_eq!(current(&app, &r).await, rejected, "unchanged");
    assert_eq!(app.count(&trail).await, audited, "nothing audited");
    let (status, _) = step(&app, &agent(), &Uuid::new_v4().to_string(), "review", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_customer_withdraws_their_own_request_before_approval_only() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let me = app.token(customer, Role::Customer);
    let e = enrol(&app, customer, 30).await;
    let r = id(&file_ok(&app, &me, &e, "relocation").await);
    let stranger = app.token(Uuid::new_v4(), Role::Customer);
    assert_eq!(step(&app, &stranger, &r, "cancel", None).await.0, 404);
    assert_eq!(step(&app, &agent(), &r, "review", None).await.0, 200);
    let (status, cancelled) = step(&app, &me, &r, "cancel", None).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");

    // Approved: too late to withdraw, for the customer and for the desk.
    let r = id(&file_ok(&app, &me, &e, "relocation").await);
    assert_eq!(step(&app, &agent(), &r, "approve", Some(json!({}))).await.0, 200);
    for token in [me.clone(), agent()] {
        let (status, problem) = step(&app, &token, &r, "cancel", None).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (409, Some("illegal_move")),
            "{problem}"
        );
    }
    assert_eq!(current(&app, &r).await["status"], "approved");
    // Customers do not decide.
    let r2 = {
        let e = enrol(&app, customer, 30).await;
        id(&file_ok(&app, &me, &e, "schedule").await)
    };
    assert_eq!(step(&app, &me, &r2, "approve", Some(json!({}))).await.0, 403);
}

#[tokio::test]
async fn a_small_request_in_the_cooling_off_period_is_approved_at_filing() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let me = app.token(customer, Role::Customer);
    // 800.00 paid two days ago: inside the 7 days, within auto_max_minor (1,000.00).
    let mut small = enrolment(customer, 2);
    small["paid_minor"] = json!(80_000);
    small["non_refundable"] = json!([]);
    let e = enrol_with(&app, &small).await;
    let r = file_ok(&app, &me, &e, "other").await;
    assert_eq!(r["status"], "approved");
    assert_eq!(r["decider"], "automatic");
    assert_eq!(
        (r["amount_minor"].as_i64(), r["approved_minor"].as_i64()),
        (Some(80_000), Some(80_000))
    );
    assert_eq!(
        (r["decided_at"].clone(), r["decided_by"].clone()),
        (json!(t0()), Value::Null)
    );
    assert_eq!(r["quote"]["in_cooling_off"], true);

    // Inside the period but above auto_max_minor: an agent decides.
    let e = enrol(&app, customer, 2).await;
    let r = file_ok(&app, &me, &e, "schedule").await;
    assert_eq!(
        (r["status"].as_str(), r["decider"].as_str()),
        (Some("requested"), Some("agent"))
    );
    assert_eq!(
        r["amount_minor"], 300_000,
        "everything back inside the cooling-off period"
    );
    // With automatic approval off, nothing is approved by nobody.
    let off = super::app_with(&[("SERVICE__APPROVAL__AUTO_MAX_MINOR", "0")]).await;
    let e = enrol_with(&off, &small).await;
    let r = file_ok(&off, &me, &e, "schedule").await;
    assert_eq!(r["status"], "requested");
}

#[tokio::test]
async fn special_cases_and_large_amounts_need_a_supervisor() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let me = app.token(customer, Role::Customer);
    // Reason `other` outside the cooling-off period.
    let e = enrol(&app, customer, 30).await;
    let other = file_ok(&app, &me, &e, "other").await;
    assert_eq!(other["decider"], "supervisor");
    // An amount over agent_max_minor (3,000.00): 5,000.00 inside the cooling-off period.
    let mut big = enrolment(customer, 1);
    big["paid_minor"] = json!(500_000);
    let e = enrol_with(&app, &big).await;
    let large = file_ok(&app, &me, &e, "schedule").await;
    assert_eq!(
        (large["amount_minor"].as_i64(), large["decider"].as_str()),
        (Some(500_000), Some("supervisor"))
    );
    // An agent approving more than the quote makes any request special.
    let e = enrol(&app, customer, 30).await;
    let plain = file_ok(&app, &me, &e, "schedule").await;

    for (r, body) in [
        (&other, json!({})),
        (&large, json!({})),
        (&plain, json!({"amount_minor": QUOTE + 1})),
    ] {
        let (status, problem) = step(&app, &agent(), &id(r), "approve", Some(body.clone())).await;
        assert_eq!(status, 403, "{problem}");
        assert_eq!(problem["code"], "supervisor_required");
        assert_eq!(current(&app, &id(r)).await["status"], "requested", "unchanged");
        let (status, approved) = step(&app, &supervisor(), &id(r), "approve", Some(body)).await;
        assert_eq!(status, 200, "{approved}");
    }
    // Admins count as supervisors.
    let e = enrol(&app, customer, 30).await;
    let r = file_ok(&app, &me, &e, "other").await;
    let admin = app.token(Uuid::new_v4(), Role::Admin);
    assert_eq!(step(&app, &admin, &id(&r), "approve", Some(json!({}))).await.0, 200);
}

#[tokio::test]
async fn whoever_filed_or_reviewed_a_request_cannot_approve_it() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let e = enrol(&app, customer, 30).await;
    let filer = app.token(Uuid::new_v4(), Role::Supervisor);
    let (status, r) = file(&app, &filer, &json!({"enrolment_id": e, "reason": "course_quality"})).await;
    assert_eq!(status, 201, "{r}");
    let r = id(&r);
    let (status, problem) = step(&app, &filer, &r, "approve", Some(json!({}))).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("four_eyes")),
        "{problem}"
    );
    let reviewer = supervisor();
    assert_eq!(step(&app, &reviewer, &r, "review", None).await.0, 200);
    let (status, problem) = step(&app, &reviewer, &r, "approve", Some(json!({}))).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("four_eyes")),
        "{problem}"
    );
    assert!(
        problem["detail"].as_str().is_some_and(|d| d.contains("four eyes")),
        "{problem}"
    );
    assert_eq!(current(&app, &r).await["status"], "under_review");
    // The filer and the reviewer may still reject or withdraw it; a third person approves.
    assert_eq!(step(&app, &agent(), &r, "approve", Some(json!({}))).await.0, 200);
}

#[tokio::test]
async fn of_two_approvals_at_once_one_passes() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let me = app.token(customer, Role::Customer);
    for _ in 0..3 {
        let e = enrol(&app, customer, 30).await;
        let r = id(&file_ok(&app, &me, &e, "schedule").await);
        let tokens: Vec<String> = (0..4).map(|_| supervisor()).collect();
        let results = futures_util::future::join_all(
            tokens
                .iter()
                .map(|t| step(&app, t, &r, "approve", Some(json!({"amount_minor": 150_000})))),
        )
        .await;
        let mut statuses: Vec<u16> = results.iter().map(|(s, _)| *s).collect();
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 409, 409, 409], "{results:?}");
        let approvals = app
            .count(&format!(
                "SELECT count(*) FROM refund_audit WHERE request_id = '{r}' AND action = 'approve'"
            ))
            .await;
        assert_eq!(approvals, 1);
        let events = app
            .count(&format!(
                "SELECT count(*) FROM outbox_event WHERE event_type = 'refund.request.approved' AND envelope->>'subject' = '{r}'"
            ))
            .await;
        assert_eq!(events, 1);
        assert_eq!(
            app.get_json(&format!("/v1/enrolments/{e}"), &me).await["refunded_minor"],
            150_000
        );
    }
}
