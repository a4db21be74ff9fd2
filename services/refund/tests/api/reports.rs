//! The supervisors' report on a known set of requests.

use chrono::Duration;
use platform::auth::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{QUOTE, agent, app, enrol, enrol_with, enrolment, file, file_ok, id, step, supervisor, t0};

#[tokio::test]
async fn the_report_gives_the_figures_of_a_known_set() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let me = app.token(customer, Role::Customer);
    let clock = app.platform.clock.clone();
    // python-101 by WeChat Pay: approved after 1 h, rejected after 3 h, withdrawn.
    let a1 = id(&file_ok(&app, &me, &enrol(&app, customer, 30).await, "schedule").await);
    let (status, a2) = file(
        &app,
        &me,
        &json!({"enrolment_id": enrol(&app, customer, 30).await, "reason": "teacher", "amount_minor": 150_000}),
    )
    .await;
    assert_eq!(status, 201, "{a2}");
    let a3 = id(&file_ok(&app, &me, &enrol(&app, customer, 30).await, "course_quality").await);
    // math-201 by Alipay: one approved automatically (500.00 in the cooling-off period), one open.
    let math = |days: i64, paid: i64| {
        let mut e = enrolment(customer, days);
        e["course_id"] = json!("math-201");
        e["channel"] = json!("alipay");
        e["paid_minor"] = json!(paid);
        e
    };
    let b1 = file_ok(&app, &me, &enrol_with(&app, &math(1, 50_000)).await, "schedule").await;
    assert_eq!(b1["status"], "approved");
    file_ok(&app, &me, &enrol_with(&app, &math(30, 300_000)).await, "schedule").await;

    clock.advance(Duration::hours(1)).expect("advance");
    assert_eq!(step(&app, &agent(), &a1, "approve", Some(json!({}))).await.0, 200);
    clock.advance(Duration::hours(2)).expect("advance");
    assert_eq!(
        step(&app, &agent(), &id(&a2), "reject", Some(json!({"note": "no"})))
            .await
            .0,
        200
    );
    assert_eq!(step(&app, &me, &a3, "cancel", None).await.0, 200);
    // Filed after the period: not counted.
    clock.advance(Duration::days(2)).expect("advance");
    file_ok(&app, &me, &enrol(&app, customer, 30).await, "relocation").await;

    let range = format!(
        "from={}&to={}",
        (t0() - Duration::days(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        (t0() + Duration::days(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let report = |by: &str| {
        let path = format!("/v1/refund-reports?{range}&by={by}");
        let app = &app;
        async move {
            let (status, body) = app.get_status(&path, &supervisor()).await;
            assert_eq!(status, 200, "{body}");
            body["groups"].as_array().expect("groups").clone()
        }
    };
    let python = json!({
        "key": "python-101", "currency": "CNY", "requests": 3,
        "requested_minor": QUOTE + 150_000 + QUOTE, "approved": 1, "approved_minor": QUOTE,
        "rejected": 1, "cancelled": 1, "open": 0,
        "by_reason": {"course_quality": 1, "schedule": 1, "teacher": 1},
        "approved_share": 0.5,
        // Decisions after 1 h and 3 h: median 2 h, p90 1 h + 0.9 × 2 h.
        "decision_secs": {"median": 7200.0, "p90": 10080.0},
        "payout_secs": {"median": null, "p90": null},
    });
    let maths = json!({
        "key": "math-201", "currency": "CNY", "requests": 2,
        "requested_minor": 50_000 + QUOTE, "approved": 1, "approved_minor": 50_000,
        "rejected": 0, "cancelled": 0, "open": 1,
        "by_reason": {"schedule": 2},
        "approved_share": 1.0,
        "decision_secs": {"median": 0.0, "p90": 0.0},
        "payout_secs": {"median": null, "p90": null},
    });
    assert_eq!(report("course").await, [maths.clone(), python.clone()]);
    let by_channel = report("channel").await;
    let keys: Vec<&str> = by_channel.iter().filter_map(|g| g["key"].as_str()).collect();
    assert_eq!(keys, ["alipay", "wechat_pay"]);
    assert_eq!(by_channel[1]["requests"], python["requests"]);
    let by_policy = report("policy").await;
    assert_eq!(by_policy.len(), 1);
    let all = &by_policy[0];
    assert_eq!(
        (all["key"].as_str(), all["requests"].as_i64(), all["open"].as_i64()),
        (Some("0"), Some(5), Some(1))
    );
    assert_eq!(all["approved_minor"], QUOTE + 50_000);
    // Decisions after 0 s, 1 h and 3 h: median 1 h; p90 1 h + 0.8 × 2 h.
    assert_eq!(all["decision_secs"], json!({"median": 3600.0, "p90": 9360.0}));
    let share = all["approved_share"].as_f64().expect("share");
    assert!((share - 2.0 / 3.0).abs() < 1e-9, "{share}");

    // Bad questions.
    let sup = supervisor();
    for (query, field) in [
        (format!("{range}&by=teacher"), "by"),
        ("from=2026-09-02T00:00:00Z&to=2026-09-01T00:00:00Z".to_owned(), "to"),
        ("from=2025-01-01T00:00:00Z&to=2026-09-01T00:00:00Z".to_owned(), "to"),
    ] {
        let (status, problem) = app.get_status(&format!("/v1/refund-reports?{query}"), &sup).await;
        assert_eq!(
            (status, testkit::problem_fields(&problem)),
            (422, vec![field.to_owned()]),
            "{query}"
        );
    }
    let (status, _): (u16, Value) = app.get_status("/v1/refund-reports?to=2026-09-01T00:00:00Z", &sup).await;
    assert_eq!(status, 400, "from is required");
    assert_eq!(
        app.get_status(&format!("/v1/refund-reports?{range}"), &agent()).await.0,
        403
    );
}
