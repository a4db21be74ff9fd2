//! Policies as data: versions, the one in force at enrolment, parse errors, quotes.

use chrono::Duration;
use platform::auth::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{QUOTE, agent, app, count, enrol, enrol_with, enrolment, t0};

fn admin() -> String {
    testkit::token(Uuid::new_v4(), Role::Admin)
}

#[tokio::test]
async fn version_zero_is_the_standard_preset_in_force_from_the_start() {
    let app = app().await;
    let v0 = app.get_json("/v1/policies/0", &agent()).await;
    assert_eq!(v0["name"], "standard");
    assert_eq!(v0["preset"], "standard");
    assert_eq!(v0["effective_from"], "1970-01-01T00:00:00Z");
    let presets = app.get_json("/v1/policy-presets", &agent()).await;
    let standard = presets["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|p| p["name"] == "standard")
        .expect("the standard preset")
        .clone();
    assert_eq!(v0["rules"], standard["rules"], "the migration's copy is the preset");
    let names: Vec<&str> = presets["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["standard", "pro_rata_sessions", "pro_rata_time"]);
    assert_eq!(app.get_status("/v1/policies/7", &agent()).await.0, 404);
}

#[tokio::test]
async fn each_enrolment_is_refunded_under_the_policy_in_force_when_it_enrolled() {
    let app = app().await;
    let (status, v1) = app
        .post_json(
            "/v1/policies",
            &admin(),
            &json!({"name": "pro rata from August", "preset": "pro_rata_sessions", "effective_from": t0() - Duration::days(20)}),
        )
        .await;
    assert_eq!(status, 201, "{v1}");
    assert_eq!(
        (v1["version"].as_i64(), v1["preset"].as_str()),
        (Some(1), Some("pro_rata_sessions"))
    );
    let rules = json!([
        {"type": "cooling_off", "days": 14},
        {"type": "deduct_non_refundable", "kinds": ["materials"]},
        {"type": "cap", "max_percent_of_paid": 50}
    ]);
    let (status, v2) = app
        .post_json(
            "/v1/policies",
            &admin(),
            &json!({"name": "half at most", "rules": rules, "effective_from": t0() - Duration::days(10)}),
        )
        .await;
    assert_eq!(status, 201, "{v2}");
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["rules"], rules);
    let list = app.get_json("/v1/policies", &agent()).await;
    let versions: Vec<i64> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|p| p["version"].as_i64())
        .collect();
    assert_eq!(versions, [2, 1, 0]);

    let customer = Uuid::new_v4();
    let me = app.token(customer, Role::Customer);
    // Enrolled before v1, under v1, at v1's first moment, under v2.
    let quote = |e: String| {
        let (app, me) = (&app, &me);
        async move {
            let (status, q) = app
                .post_json("/v1/quotes", me, &json!({"enrolment_id": e, "reason": "schedule"}))
                .await;
            assert_eq!(status, 200, "{q}");
            q
        }
    };
    let before = quote(enrol(&app, customer, 30).await).await;
    assert_eq!(
        (before["policy_version"].as_i64(), before["amount_minor"].as_i64()),
        (Some(0), Some(QUOTE))
    );
    let under_v1 = quote(enrol(&app, customer, 15).await).await;
    // (3,000 − 200) × 8 of 10 sessions left = 2,240.00.
    assert_eq!(
        (under_v1["policy_version"].as_i64(), under_v1["amount_minor"].as_i64()),
        (Some(1), Some(224_000))
    );
    let mut late = enrolment(customer, 30);
    late["enrolled_at"] = json!(t0() - Duration::days(20));
    let at_v1_start = quote(enrol_with(&app, &late).await).await;
    assert_eq!(at_v1_start["policy_version"], 1, "effective_from is inclusive");
    let under_v2 = quote(enrol(&app, customer, 8).await).await;
    assert_eq!(under_v2["policy_version"], 2);
    assert_eq!(
        under_v2["in_cooling_off"], true,
        "8 days into a 14-day cooling-off period"
    );
    assert_eq!(under_v2["amount_minor"], 300_000);
    // What if it were asked a week later: past the cooling-off period, v2's cap applies
    // (half of what was paid).
    let (_, later) = app
        .post_json(
            "/v1/quotes",
            &me,
            &json!({"enrolment_id": under_v2["enrolment_id"], "reason": "schedule", "at": t0() + Duration::days(7)}),
        )
        .await;
    assert_eq!(
        (later["in_cooling_off"].as_bool(), later["amount_minor"].as_i64()),
        (Some(false), Some(150_000))
    );
}

#[tokio::test]
async fn a_policy_that_does_not_parse_is_a_422_naming_each_field_and_nothing_is_stored() {
    let app = app().await;
    let bad = json!({
        "name": " ",
        "rules": [
            {"type": "cooling_off", "days": 0},
            {"type": "tiers_by_consumed", "basis": "sessions", "tiers": [
                {"up_to_percent": 30, "refund_percent": 70},
                {"up_to_percent": 60, "refund_percent": 80}
            ]},
            {"type": "refund_everything"}
        ],
        "effective_from": t0()
    });
    let (status, problem) = app.post_json("/v1/policies", &admin(), &bad).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(
        testkit::problem_fields(&problem),
        [
            "name",
            "rules[0].days",
            "rules[1].tiers[1].refund_percent",
            "rules[2].type"
        ]
    );
    for body in [
        json!({"name": "x", "effective_from": t0()}),
        json!({"name": "x", "preset": "standard", "rules": [], "effective_from": t0()}),
        json!({"name": "x", "preset": "generous", "effective_from": t0()}),
        json!({"name": "x", "rules": {"type": "cap"}, "effective_from": t0()}),
    ] {
        let (status, problem) = app.post_json("/v1/policies", &admin(), &body).await;
        assert_eq!(status, 422, "{body}: {problem}");
    }
    assert_eq!(count(&app, "refund_policy").await, 1, "version 0 only");
    // Agents read policies; only admins write them.
    let (status, _) = app
        .post_json(
            "/v1/policies",
            &agent(),
            &json!({"name": "x", "preset": "standard", "effective_from": t0()}),
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_quote_answers_what_if_with_every_rule_and_changes_nothing() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let me = app.token(customer, Role::Customer);
    let e = enrol(&app, customer, 5).await;
    let ask = |body: Value| {
        let (app, me) = (&app, &me);
        async move {
            let (status, q) = app.post_json("/v1/quotes", me, &body).await;
            assert_eq!(status, 200, "{q}");
            q
        }
    };
    // Five days in: inside the 7-day cooling-off period, everything back.
    let now = ask(json!({"enrolment_id": e, "reason": "schedule"})).await;
    assert_eq!(
        (now["in_cooling_off"].as_bool(), now["amount_minor"].as_i64()),
        (Some(true), Some(300_000))
    );
    assert_eq!(now["at"], json!(t0()));
    assert!(
        now["explanation"].as_str().is_some_and(|t| t.contains("cooling-off")),
        "{now}"
    );
    // Three days later it is over: the tier table applies.
    let later = ask(json!({"enrolment_id": e, "reason": "schedule", "at": t0() + Duration::days(3)})).await;
    assert_eq!(
        (later["in_cooling_off"].as_bool(), later["amount_minor"].as_i64()),
        (Some(false), Some(QUOTE))
    );
    let tier = later["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .find(|l| l["rule"] == "tiers_by_consumed")
        .expect("the tier line")
        .clone();
    assert_eq!(tier["figures"]["refund_percent"], 70);
    assert_eq!(tier["amount_minor"], QUOTE - 280_000);
    // …and with 7 of 10 sessions attended, nothing.
    let used =
        ask(json!({"enrolment_id": e, "reason": "teacher", "at": t0() + Duration::days(3), "attended_sessions": 7}))
            .await;
    assert_eq!(
        (used["attended_sessions"].as_i64(), used["amount_minor"].as_i64()),
        (Some(7), Some(0))
    );
    // A duplicate charge is refunded in full whenever.
    let dup = ask(json!({"enrolment_id": e, "reason": "duplicate_charge", "at": t0() + Duration::days(300)})).await;
    assert_eq!(dup["amount_minor"], 300_000);

    let (status, problem) = app
        .post_json(
            "/v1/quotes",
            &me,
            &json!({"enrolment_id": e, "reason": "bored", "attended_sessions": -1}),
        )
        .await;
    assert_eq!(
        (status, testkit::problem_fields(&problem)),
        (422, vec!["reason".to_owned(), "attended_sessions".to_owned()])
    );
    assert_eq!(count(&app, "refund_request").await, 0);
    assert_eq!(
        app.get_json(&format!("/v1/enrolments/{e}"), &me).await["attended_sessions"],
        2
    );
}
