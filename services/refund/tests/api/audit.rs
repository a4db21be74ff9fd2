//! The audit trail: every step with who, when, why, the statuses, the amount and the policy
//! version; append-only for the role the service runs as.

use chrono::Duration;
use platform::auth::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{QUOTE, app, enrol, enrol_with, enrolment, file, id, step, t0};

/// `(action, from, to, amount)` of each entry.
fn steps(trail: &Value) -> Vec<(String, Value, String, Value)> {
    trail["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap_or_default().to_owned(),
                a["from_status"].clone(),
                a["to_status"].as_str().unwrap_or_default().to_owned(),
                a["amount_minor"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_step_is_in_the_audit_trail_with_who_when_and_why() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let e = enrol(&app, customer, 30).await;
    let agent_id = Uuid::new_v4();
    let agent = app.token(agent_id, Role::Agent);
    let (status, r) = file(
        &app,
        &app.token(customer, Role::Customer),
        &json!({"enrolment_id": e, "reason": "schedule", "comment": "时间冲突", "amount_minor": 150_000}),
    )
    .await;
    assert_eq!(status, 201, "{r}");
    let r = id(&r);
    app.platform.clock.advance(Duration::minutes(10)).expect("advance");
    step(&app, &agent, &r, "review", None).await;
    app.platform.clock.advance(Duration::minutes(10)).expect("advance");
    let sup_id = Uuid::new_v4();
    let sup = app.token(sup_id, Role::Supervisor);
    let (status, _) = step(
        &app,
        &sup,
        &r,
        "approve",
        Some(json!({"amount_minor": 120_000, "note": "partial"})),
    )
    .await;
    assert_eq!(status, 200);

    let trail = app.get_json(&format!("/v1/refund-requests/{r}/audit"), &agent).await;
    assert_eq!(trail["request_id"], r);
    assert_eq!(
        steps(&trail),
        [
            ("submit".to_owned(), Value::Null, "requested".to_owned(), json!(150_000)),
            (
                "quote".to_owned(),
                json!("requested"),
                "requested".to_owned(),
                json!(QUOTE)
            ),
            (
                "review".to_owned(),
                json!("requested"),
                "under_review".to_owned(),
                json!(150_000)
            ),
            (
                "approve".to_owned(),
                json!("under_review"),
                "approved".to_owned(),
                json!(120_000)
            ),
        ]
    );
    let items = trail["items"].as_array().expect("items");
    let who: Vec<(Value, Value)> = items
        .iter()
        .map(|a| (a["actor_id"].clone(), a["actor_roles"].clone()))
        .collect();
    assert_eq!(
        who,
        [
            (json!(customer), json!(["customer"])),
            (Value::Null, json!([])),
            (json!(agent_id), json!(["agent"])),
            (json!(sup_id), json!(["supervisor"])),
        ]
    );
    let when: Vec<Value> = items.iter().map(|a| a["at"].clone()).collect();
    assert_eq!(
        when,
        [
            json!(t0()),
            json!(t0()),
            json!(t0() + Duration::minutes(10)),
            json!(t0() + Duration::minutes(20))
        ]
    );
    assert_eq!(items[0]["note"], "时间冲突");
    assert!(
        items[1]["note"]
            .as_str()
            .is_some_and(|n| n.contains("Refund quote: 1,960.00 CNY")),
        "{}",
        items[1]
    );
    assert_eq!(items[3]["note"], "partial");
    assert!(items.iter().all(|a| a["policy_version"] == 0 && a["currency"] == "CNY"));

    // Other steps: a rejection and a withdrawal; an automatic approval names nobody.
    let e2 = enrol(&app, customer, 30).await;
    let (_, r2) = file(&app, &agent, &json!({"enrolment_id": e2, "reason": "teacher"})).await;
    step(&app, &sup, &id(&r2), "reject", Some(json!({"note": "no"}))).await;
    let e3 = enrol(&app, customer, 30).await;
    let (_, r3) = file(&app, &agent, &json!({"enrolment_id": e3, "reason": "teacher"})).await;
    step(&app, &app.token(customer, Role::Customer), &id(&r3), "cancel", None).await;
    let mut small = enrolment(customer, 1);
    small["paid_minor"] = json!(50_000);
    let e4 = enrol_with(&app, &small).await;
    let (_, r4) = file(
        &app,
        &app.token(customer, Role::Customer),
        &json!({"enrolment_id": e4, "reason": "schedule"}),
    )
    .await;
    let last = |trail: Value| steps(&trail).last().map(|s| (s.0.clone(), s.2.clone()));
    for (r, expected) in [
        (&r2, ("reject", "rejected")),
        (&r3, ("cancel", "cancelled")),
        (&r4, ("approve", "approved")),
    ] {
        let trail = app
            .get_json(&format!("/v1/refund-requests/{}/audit", id(r)), &agent)
            .await;
        assert_eq!(
            last(trail.clone()),
            Some((expected.0.to_owned(), expected.1.to_owned())),
            "{trail}"
        );
    }
    let auto = app
        .get_json(&format!("/v1/refund-requests/{}/audit", id(&r4)), &agent)
        .await;
    let approve = auto["items"]
        .as_array()
        .and_then(|a| a.last())
        .cloned()
        .expect("approve");
    assert_eq!(
        (approve["actor_id"].clone(), approve["amount_minor"].clone()),
        (Value::Null, json!(50_000))
    );
    assert!(
        approve["note"].as_str().is_some_and(|n| n.contains("automatically")),
        "{approve}"
    );

    let (status, _) = app
        .get_status(&format!("/v1/refund-requests/{}/audit", Uuid::new_v4()), &agent)
        .await;
    assert_eq!(status, 404);
    let me = app.token(customer, Role::Customer);
    assert_eq!(
        app.get_status(&format!("/v1/refund-requests/{r}/audit"), &me).await.0,
        403
    );
}

#[tokio::test]
async fn the_role_the_service_runs_as_cannot_change_or_delete_the_audit_trail() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let e = enrol(&app, customer, 30).await;
    file(
        &app,
        &app.token(customer, Role::Customer),
        &json!({"enrolment_id": e, "reason": "schedule"}),
    )
    .await;
    let pool = &app.platform.pool;
    let who: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(pool)
        .await
        .expect("current_user");
    assert_eq!(who, "refund_runtime", "the service's pool acts as the runtime role");
    let rows = app.count("SELECT count(*) FROM refund_audit").await;
    assert_eq!(rows, 2);
    for sql in [
        "UPDATE refund_audit SET note = 'rewritten'",
        "DELETE FROM refund_audit",
        "TRUNCATE refund_audit",
        "UPDATE refund_policy SET rules = '{\"rules\": []}'",
        "DELETE FROM refund_policy",
    ] {
        let err = sqlx::query(sql).execute(pool).await.expect_err(sql);
        let code = err.as_database_error().and_then(|d| d.code()).map(|c| c.into_owned());
        assert_eq!(code.as_deref(), Some("42501"), "{sql}: {err}");
    }
    assert_eq!(app.count("SELECT count(*) FROM refund_audit").await, rows);
    assert_eq!(
        app.count("SELECT count(*) FROM refund_audit WHERE note = 'rewritten'")
            .await,
        0
    );
    // What it needs it still may: read and write its other tables.
    sqlx::query("UPDATE enrolment SET updated_at = updated_at")
        .execute(pool)
        .await
        .expect("enrolments are writable");
}
