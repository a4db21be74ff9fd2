//! Filing refund requests: by the customer or on their behalf, one open per enrolment,
//! idempotent, amounts within the quote and the payment.

use chrono::Duration;
use platform::auth::Role;
use serde_json::{Value, json};
use testkit::TestApp;
use uuid::Uuid;

use super::{QUOTE, agent, app, count, enrol, file, file_ok, id, step, supervisor, t0};

/// Rows of the tables a filing writes: requests, audit rows, events.
async fn written(app: &TestApp) -> [i64; 3] {
    [
        count(app, "refund_request").await,
        count(app, "refund_audit").await,
        count(app, "outbox_event").await,
    ]
}

#[tokio::test]
async fn a_customer_files_for_their_enrolment_and_the_quote_is_stored_with_the_request() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let me = app.token(customer, Role::Customer);
    let e = enrol(&app, customer, 30).await;
    let ticket = Uuid::new_v4();
    let res = app
        .post("/v1/refund-requests", &me)
        .json(&json!({"enrolment_id": e, "reason": "schedule", "comment": " 时间冲突 ", "ticket_id": ticket, "currency": "CNY"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().expect("location").to_owned();
    let r: Value = res.json().await.expect("json");
    assert_eq!(location, format!("/v1/refund-requests/{}", id(&r)));
    assert_eq!(r["status"], "requested");
    assert_eq!(r["customer_id"], customer.to_string());
    assert_eq!(r["enrolment_id"], e);
    assert_eq!(r["ticket_id"], ticket.to_string());
    assert_eq!(r["comment"], "时间冲突");
    assert_eq!(r["amount_minor"], QUOTE, "the quote by default");
    assert_eq!(r["currency"], "CNY");
    assert_eq!(r["decider"], "agent");
    assert_eq!(r["filed_by"], customer.to_string());
    assert_eq!(r["created_at"], json!(t0()));
    let quote = &r["quote"];
    assert_eq!(
        (quote["amount_minor"].as_i64(), quote["policy_version"].as_i64()),
        (Some(QUOTE), Some(0))
    );
    assert_eq!(quote["in_cooling_off"], false);
    let rules: Vec<&str> = quote["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .filter_map(|l| l["rule"].as_str())
        .collect();
    assert_eq!(
        rules,
        [
            "paid",
            "cooling_off",
            "full_for_reasons",
            "deduct_non_refundable",
            "tiers_by_consumed"
        ]
    );
    let sum: i64 = quote["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .filter_map(|l| l["amount_minor"].as_i64())
        .sum();
    assert_eq!(sum, QUOTE, "the lines add up to the quote");

    assert_eq!(app.get_json(&location, &me).await, r);
    let enrolment = app.get_json(&format!("/v1/enrolments/{e}"), &me).await;
    assert_eq!(enrolment["open_request_id"], r["id"]);
    assert_eq!(enrolment["refunded_minor"], 0, "nothing refunded before approval");
}

#[tokio::test]
async fn an_agent_files_on_a_customers_behalf_and_may_ask_above_the_quote() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let e = enrol(&app, customer, 30).await;
    let (status, r) = file(
        &app,
        &agent(),
        &json!({"enrolment_id": e, "reason": "course_quality", "amount_minor": 250_000}),
    )
    .await;
    assert_eq!(status, 201, "{r}");
    assert_eq!(r["customer_id"], customer.to_string(), "the enrolment's customer");
    assert_eq!(r["amount_minor"], 250_000);
    assert_eq!(r["quote"]["amount_minor"], QUOTE);
    assert_eq!(r["decider"], "supervisor", "above the quote: a special case");
    // The customer sees it as theirs.
    let me = app.token(customer, Role::Customer);
    assert_eq!(
        app.get_status(&format!("/v1/refund-requests/{}", id(&r)), &me).await.0,
        200
    );
}

#[tokio::test]
async fn another_customers_or_an_unknown_enrolment_is_a_404_and_nothing_is_filed() {
    let app = app().await;
    let e = enrol(&app, Uuid::new_v4(), 30).await;
    let stranger = app.token(Uuid::new_v4(), Role::Customer);
    let (status, problem) = file(&app, &stranger, &json!({"enrolment_id": e, "reason": "schedule"})).await;
    assert_eq!(status, 404, "{problem}");
    let (status, _) = file(
        &app,
        &agent(),
        &json!({"enrolment_id": Uuid::new_v4(), "reason": "schedule"}),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(written(&app).await, [0, 0, 0]);
    // Nor can they read, list or quote it.
    assert_eq!(app.get_status(&format!("/v1/enrolments/{e}"), &stranger).await.0, 404);
    let (status, _) = app
        .post_json(
            "/v1/quotes",
            &stranger,
            &json!({"enrolment_id": e, "reason": "schedule"}),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_second_open_request_is_a_409_naming_the_open_one() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let me = app.token(customer, Role::Customer);
    let e = enrol(&app, customer, 30).await;
    let first = file_ok(&app, &me, &e, "schedule").await;
    let before = written(&app).await;
    for token in [me.clone(), agent()] {
        let (status, problem) = file(&app, &token, &json!({"enrolment_id": e, "reason": "teacher"})).await;
        assert_eq!(status, 409, "{problem}");
        assert_eq!(problem["code"], "open_request_exists");
        assert_eq!(problem["open_request_id"], first["id"]);
    }
    assert_eq!(written(&app).await, before, "nothing written");
    // The database holds the rule too: a second open row is refused by the partial index.
    let forged = sqlx::query(
        "INSERT INTO refund_request (id, enrolment_id, customer_id, reason, status, amount_minor, currency, \
         quote_minor, quote_lines, in_cooling_off, policy_version, decider, filed_by, version, created_at, updated_at) \
         SELECT $1, enrolment_id, customer_id, reason, 'under_review', amount_minor, currency, quote_minor, quote_lines, \
         in_cooling_off, policy_version, decider, filed_by, 1, created_at, updated_at FROM refund_request WHERE id = $2::uuid",
    )
    .bind(Uuid::now_v7())
    .bind(id(&first))
    .execute(&app.platform.pool)
    .await
    .expect_err("refused");
    assert!(forged.to_string().contains("refund_request_open_idx"), "{forged}");

    // Once it is decided (here withdrawn), another may be filed.
    assert_eq!(step(&app, &me, &id(&first), "cancel", None).await.0, 200);
    file_ok(&app, &me, &e, "teacher").await;
}

#[tokio::test]
async fn a_retry_with_the_same_key_returns_the_first_response_and_files_nothing_new() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let me = app.token(customer, Role::Customer);
    let e = enrol(&app, customer, 30).await;
    let body = json!({"enrolment_id": e, "reason": "schedule", "amount_minor": 100_000});
    let send = |body: Value| {
        let req = app
            .post("/v1/refund-requests", &me)
            .header("Idempotency-Key", "refund-1")
            .json(&body);
        async move {
            let res = req.send().await.expect("sent");
            (res.status().as_u16(), res.json::<Value>().await.expect("json"))
        }
    };
    let (status, first) = send(body.clone()).await;
    assert_eq!(status, 201, "{first}");
    let after_first = written(&app).await;
    assert_eq!(after_first, [1, 2, 2]);
    let (status, again) = send(body.clone()).await;
    assert_eq!((status, &again), (201, &first));
    assert_eq!(written(&app).await, after_first);
    let mut other = body;
    other["amount_minor"] = json!(90_000);
    let (status, problem) = send(other).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("idempotency_key_reused"))
    );
    assert_eq!(written(&app).await, after_first);
}

#[tokio::test]
async fn bad_amounts_and_currencies_are_refused_and_nothing_changes() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let me = app.token(customer, Role::Customer);
    let e = enrol(&app, customer, 30).await;
    let cases = [
        (
            me.clone(),
            json!({"enrolment_id": e, "reason": "schedule", "amount_minor": QUOTE + 1}),
            "amount_minor",
        ),
        (
            agent(),
            json!({"enrolment_id": e, "reason": "schedule", "amount_minor": 300_001}),
            "amount_minor",
        ),
        (
            me.clone(),
            json!({"enrolment_id": e, "reason": "schedule", "currency": "USD"}),
            "currency",
        ),
        (me.clone(), json!({"enrolment_id": e, "reason": "bored"}), "reason"),
        (
            me.clone(),
            json!({"enrolment_id": e, "reason": "schedule", "amount_minor": 0}),
            "amount_minor",
        ),
    ];
    for (token, body, field) in cases {
        let (status, problem) = file(&app, &token, &body).await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert_eq!(testkit::problem_fields(&problem), [field], "{body}: {problem}");
    }
    let (_, problem) = file(
        &app,
        &me,
        &json!({"enrolment_id": e, "reason": "schedule", "amount_minor": QUOTE + 1}),
    )
    .await;
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("1,960.00 CNY")),
        "names the quote: {problem}"
    );
    assert_eq!(written(&app).await, [0, 0, 0]);
}

#[tokio::test]
async fn partial_refunds_add_up_to_at_most_what_was_paid() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let me = app.token(customer, Role::Customer);
    let e = enrol(&app, customer, 30).await;
    let path = format!("/v1/enrolments/{e}");
    // 1,000.00 now, approved.
    let (status, first) = file(
        &app,
        &me,
        &json!({"enrolment_id": e, "reason": "schedule", "amount_minor": 100_000}),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(
        step(&app, &agent(), &id(&first), "approve", Some(json!({}))).await.0,
        200
    );
    let enrolment = app.get_json(&path, &me).await;
    assert_eq!(
        (
            enrolment["refunded_minor"].as_i64(),
            enrolment["open_request_id"].as_str()
        ),
        (Some(100_000), None)
    );

    // The next quote counts what was refunded: (3,000 − 1,000 − 200) × 70% = 1,260.00.
    let second = file_ok(&app, &me, &e, "schedule").await;
    assert_eq!(second["quote"]["amount_minor"], 126_000);
    assert_eq!(second["quote"]["lines"][1]["rule"], "already_refunded");
    // A supervisor approves more than the quote, up to what is left of the payment; not more.
    let (status, problem) = step(
        &app,
        &supervisor(),
        &id(&second),
        "approve",
        Some(json!({"amount_minor": 200_001})),
    )
    .await;
    assert_eq!(
        (status, testkit::problem_fields(&problem)),
        (422, vec!["amount_minor".to_owned()]),
        "{problem}"
    );
    let (status, approved) = step(
        &app,
        &supervisor(),
        &id(&second),
        "approve",
        Some(json!({"amount_minor": 200_000, "note": "goodwill"})),
    )
    .await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["approved_minor"], 200_000);
    assert_eq!(app.get_json(&path, &me).await["refunded_minor"], 300_000);

    // Nothing is left: another request is refused.
    let (status, problem) = file(
        &app,
        &agent(),
        &json!({"enrolment_id": e, "reason": "schedule", "amount_minor": 1}),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(
        app.count(&format!(
            "SELECT coalesce(sum(approved_minor), 0)::bigint FROM refund_request WHERE enrolment_id = '{e}'"
        ))
        .await,
        300_000
    );
}

#[tokio::test]
async fn customers_list_only_their_own_requests_and_the_desk_narrows_the_list() {
    let app = app().await;
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let (a, b) = (app.token(alice, Role::Customer), app.token(bob, Role::Customer));
    let mut mine = Vec::new();
    for _ in 0..3 {
        let e = enrol(&app, alice, 30).await;
        mine.push(id(&file_ok(&app, &a, &e, "schedule").await));
        app.platform.clock.advance(Duration::seconds(1)).expect("advance");
    }
    let e = enrol(&app, bob, 30).await;
    let bobs = id(&file_ok(&app, &b, &e, "teacher").await);
    step(&app, &b, &bobs, "cancel", None).await;

    let ids = |page: &Value| -> Vec<String> { page["items"].as_array().expect("items").iter().map(id).collect() };
    let first = app.get_json("/v1/refund-requests?limit=2", &a).await;
    let next = first["next_cursor"].as_str().expect("a next page").to_owned();
    let second = app
        .get_json(&format!("/v1/refund-requests?limit=2&cursor={next}"), &a)
        .await;
    assert_eq!(second["next_cursor"], Value::Null);
    let mut listed = ids(&first);
    listed.extend(ids(&second));
    mine.reverse();
    assert_eq!(listed, mine, "newest first, only hers");
    let theirs = app
        .get_json(&format!("/v1/refund-requests?customer_id={bob}"), &a)
        .await;
    assert_eq!(ids(&theirs), Vec::<String>::new());

    let reader = testkit::service_token(Uuid::new_v4(), &["refunds:read"]);
    let cancelled = app.get_json("/v1/refund-requests?status=cancelled", &reader).await;
    assert_eq!(ids(&cancelled), [bobs.as_str()]);
    let by_customer = app
        .get_json(&format!("/v1/refund-requests?customer_id={alice}"), &agent())
        .await;
    assert_eq!(ids(&by_customer).len(), 3);
    let by_enrolment = app
        .get_json(&format!("/v1/refund-requests?enrolment_id={e}"), &agent())
        .await;
    assert_eq!(ids(&by_enrolment), [bobs]);
    let (status, problem) = app.get_status("/v1/refund-requests?status=lost", &agent()).await;
    assert_eq!(
        (status, testkit::problem_fields(&problem)),
        (422, vec!["status".to_owned()])
    );
}
