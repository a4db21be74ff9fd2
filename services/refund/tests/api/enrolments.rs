//! Enrolments and payments, fed by the company's systems.

use platform::auth::{Principal, Role, StaffFunction};
use serde_json::json;
use uuid::Uuid;

use super::{QUOTE, agent, app, count, enrol, enrolment, feeder, file_ok, step, supervisor};

#[tokio::test]
async fn the_company_puts_an_enrolment_and_replaces_it_whole() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let id = Uuid::new_v4();
    let path = format!("/v1/enrolments/{id}");
    let admin = app.token(Uuid::new_v4(), Role::Admin);
    let (status, created) = app.put_json(&path, &admin, &enrolment(customer, 30)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["id"], id.to_string());
    assert_eq!(created["customer_id"], customer.to_string());
    assert_eq!(created["channel"], "wechat_pay");
    assert_eq!(created["refunded_minor"], 0);
    assert_eq!(created["open_request_id"], json!(null));
    assert_eq!(
        created["non_refundable"],
        json!([{"kind": "materials", "amount_minor": 20_000}])
    );

    let mut changed = enrolment(customer, 30);
    changed["class_id"] = json!("python-101-b");
    changed["attended_sessions"] = json!(5);
    let (status, replaced) = app.put_json(&path, &feeder(), &changed).await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["class_id"], "python-101-b");
    assert_eq!(replaced["attended_sessions"], 5);
    assert_eq!(replaced["created_at"], created["created_at"]);
    assert_eq!(count(&app, "enrolment").await, 1);

    // Who reads it: the customer, the desk, a service with enrolments:read; another customer
    // is told nothing.
    let owner = app.token(customer, Role::Customer);
    assert_eq!(app.get_json(&path, &owner).await, replaced);
    for reader in [
        agent(),
        supervisor(),
        testkit::service_token(Uuid::new_v4(), &["enrolments:read"]),
    ] {
        assert_eq!(app.get_status(&path, &reader).await.0, 200);
    }
    let stranger = app.token(Uuid::new_v4(), Role::Customer);
    assert_eq!(app.get_status(&path, &stranger).await.0, 404);
    // Writing needs the scope: reading is not enough.
    let reader = testkit::service_token(Uuid::new_v4(), &["enrolments:read"]);
    assert_eq!(app.put_json(&path, &reader, &changed).await.0, 403);
}

#[tokio::test]
async fn an_invalid_enrolment_is_refused_field_by_field_and_nothing_is_stored() {
    let app = app().await;
    let mut body = enrolment(Uuid::new_v4(), 1);
    body["paid_minor"] = json!(-1);
    body["currency"] = json!("XYZ");
    body["channel"] = json!("paypal");
    body["total_sessions"] = json!(-2);
    body["service_ends_at"] = json!("2020-01-01T00:00:00Z");
    let path = format!("/v1/enrolments/{}", Uuid::new_v4());
    let (status, problem) = app.put_json(&path, &feeder(), &body).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(
        testkit::problem_fields(&problem),
        [
            "paid_minor",
            "currency",
            "channel",
            "total_sessions",
            "service_ends_at",
            "non_refundable"
        ]
    );
    let (status, problem) = app
        .put_json(&path, &feeder(), &json!({"customer_id": Uuid::new_v4()}))
        .await;
    assert_eq!(status, 422, "missing fields: {problem}");
    assert_eq!(count(&app, "enrolment").await, 0);
}

#[tokio::test]
async fn a_trainer_records_attendance_and_the_quote_follows_it() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let e = enrol(&app, customer, 30).await;
    let trainer =
        testkit::token_for(&Principal::new(Uuid::new_v4(), &[Role::Staff]).with_functions(&[StaffFunction::Trainer]));
    let path = format!("/v1/enrolments/{e}/attendance");
    let (status, updated) = app.put_json(&path, &trainer, &json!({"attended_sessions": 5})).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["attended_sessions"], 5);
    let scoped = testkit::service_token(Uuid::new_v4(), &["attendance:write"]);
    assert_eq!(
        app.put_json(&path, &scoped, &json!({"attended_sessions": 5})).await.0,
        200
    );
    let (status, problem) = app.put_json(&path, &trainer, &json!({"attended_sessions": -1})).await;
    assert_eq!(
        (status, testkit::problem_fields(&problem)),
        (422, vec!["attended_sessions".to_owned()])
    );
    let unknown = format!("/v1/enrolments/{}/attendance", Uuid::new_v4());
    assert_eq!(
        app.put_json(&unknown, &trainer, &json!({"attended_sessions": 1}))
            .await
            .0,
        404
    );

    // 5 of 10 attended: the 40% tier of the standard policy.
    let me = app.token(customer, Role::Customer);
    let (status, quote) = app
        .post_json("/v1/quotes", &me, &json!({"enrolment_id": e, "reason": "schedule"}))
        .await;
    assert_eq!(status, 200, "{quote}");
    assert_eq!(quote["attended_sessions"], 5);
    assert_eq!(quote["amount_minor"], 112_000);
}

#[tokio::test]
async fn an_enrolment_with_refunds_keeps_its_currency_customer_and_what_was_refunded() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let e = enrol(&app, customer, 30).await;
    let path = format!("/v1/enrolments/{e}");
    let r = file_ok(&app, &app.token(customer, Role::Customer), &e, "schedule").await;

    let mut usd = enrolment(customer, 30);
    usd["currency"] = json!("USD");
    let (status, problem) = app.put_json(&path, &feeder(), &usd).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("currency_locked")),
        "{problem}"
    );
    let mut other = enrolment(Uuid::new_v4(), 30);
    other["currency"] = json!("CNY");
    let (status, problem) = app.put_json(&path, &feeder(), &other).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("customer_locked")),
        "{problem}"
    );

    let (status, approved) = step(&app, &supervisor(), &super::id(&r), "approve", Some(json!({}))).await;
    assert_eq!(status, 200, "{approved}");
    let mut cheaper = enrolment(customer, 30);
    cheaper["paid_minor"] = json!(QUOTE - 1);
    cheaper["non_refundable"] = json!([]);
    let (status, problem) = app.put_json(&path, &feeder(), &cheaper).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("paid_below_refunded")),
        "{problem}"
    );

    let stored = app.get_json(&path, &agent()).await;
    assert_eq!(stored["currency"], "CNY");
    assert_eq!(stored["customer_id"], customer.to_string());
    assert_eq!(stored["paid_minor"], 300_000);
    assert_eq!(stored["refunded_minor"], QUOTE);
}
