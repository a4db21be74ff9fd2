//! Refunds across the running platform: a refund filed from a ticket inside the cooling-off
//! period is approved at once, the customer is told the amount and the ticket gets the note; a
//! pro-rata refund over an agent's limit needs a supervisor; a rejection tells the customer why
//! and resolves the ticket. The customer's messages render from refund's own events.

use chrono::{Duration, Utc};
use platform::auth::Role;
use serde_json::{Value, json};
use system_tests::{Stack, token};
use uuid::Uuid;

/// The company's systems record what `customer` paid for a course, `days_ago`.
async fn enrol(stack: &Stack, customer: Uuid, paid_minor: i64, days_ago: i64, total_sessions: i32) -> Uuid {
    let id = Uuid::new_v4();
    let billing = testkit::service_token(Uuid::new_v4(), &["enrolments:write"]);
    let record = json!({"customer_id": customer, "course_id": "math-101", "class_id": "math-101-a",
        "paid_minor": paid_minor, "currency": "CNY", "channel": "alipay",
        "payment_reference": format!("2026{}", id.simple()), "total_sessions": total_sessions,
        "enrolled_at": Utc::now() - Duration::days(days_ago)});
    let (status, e) = stack
        .put_json("refund", &format!("/v1/enrolments/{id}"), &billing, &record)
        .await;
    assert_eq!(status, 201, "{e}");
    id
}

/// `customer` files a refund request for `enrolment` from `ticket`; the request.
async fn file(stack: &Stack, customer: Uuid, enrolment: Uuid, reason: &str, ticket: Option<&str>) -> Value {
    let (status, r) = stack
        .post_json(
            "refund",
            "/v1/refund-requests",
            &token(customer, Role::Customer),
            &json!({"enrolment_id": enrolment, "reason": reason, "ticket_id": ticket}),
        )
        .await;
    assert_eq!(status, 201, "{r}");
    r
}

/// Waits for the in-app message of `kind` in `customer`'s inbox.
async fn message(stack: &Stack, customer: Uuid, kind: &str) -> Value {
    let me = token(customer, Role::Customer);
    testkit::eventually(30, kind, || async {
        let (_, inbox) = stack.get_status("notifications", "/v1/inbox", &me).await;
        Ok(inbox["items"]
            .as_array()
            .and_then(|items| items.iter().find(|m| m["kind"] == kind).cloned()))
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Waits until the ticket's internal notes include one containing every one of `parts`; the
/// notes.
async fn noted(stack: &Stack, ticket: &str, parts: &[&str]) -> Vec<String> {
    let agent = token(Uuid::new_v4(), Role::Agent);
    testkit::eventually(30, "the note on the ticket", || async {
        let (_, thread) = stack
            .get_status("intake", &format!("/v1/tickets/{ticket}/messages"), &agent)
            .await;
        let notes: Vec<String> = thread["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["kind"] == "note" && m["visibility"] == "internal")
            .filter_map(|m| m["body"].as_str().map(str::to_owned))
            .collect();
        Ok(notes
            .iter()
            .any(|n| parts.iter().all(|p| n.contains(p)))
            .then_some(notes))
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {parts:?}"))
}

async fn ticket_status(stack: &Stack, ticket: &str) -> String {
    let agent = token(Uuid::new_v4(), Role::Agent);
    let (_, t) = stack
        .get_status("intake", &format!("/v1/tickets/{ticket}"), &agent)
        .await;
    t["status"].as_str().unwrap_or_default().to_owned()
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn refunds_filed_from_tickets_tell_the_customer_and_follow_the_ticket() {
    let stack = Stack::start(&[]).await.expect("stack");

    // 1. Inside the 7-day cooling-off period: approved at once, in full.
    let customer = Uuid::new_v4();
    let ticket = stack
        .open_ticket(
            customer,
            "申请退款",
            "报名两天了，孩子上课时间和学校冲突，想申请全额退款。",
        )
        .await;
    let ticket_id = id(&ticket);
    let enrolment = enrol(&stack, customer, 59_900, 2, 14).await;
    let r = file(&stack, customer, enrolment, "schedule", Some(&ticket_id)).await;
    assert_eq!(
        (&r["status"], &r["approved_minor"], &r["ticket_id"]),
        (&json!("approved"), &json!(59_900), &json!(ticket_id)),
        "{r}"
    );
    let reference = id(&r).replace('-', "")[..8].to_uppercase();
    let approved = message(&stack, customer, "refund_request_approved").await;
    assert_eq!(approved["title"], "退款已批准", "{approved}");
    let body = approved["body"].as_str().expect("body");
    assert!(body.contains("599.00 元") && body.contains(&reference), "{body}");
    let received = message(&stack, customer, "refund_request_received").await;
    assert!(
        received["body"].as_str().is_some_and(|b| b.contains("599.00 元")),
        "{received}"
    );
    let notes = noted(&stack, &ticket_id, &[&reference, "已自动批准", "599.00 CNY"]).await;
    noted(&stack, &ticket_id, &["已由客户提交", "适用退费政策 v0", "在冷静期内"]).await;
    assert!(notes.len() >= 2, "{notes:?}");
    assert_ne!(
        ticket_status(&stack, &ticket_id).await,
        "resolved",
        "an approval leaves the ticket to the desk"
    );

    // 2. Pro rata, 40 days after enrolling with 4 of 14 sessions attended: 10/14 of 8,400.00 is
    //    6,000.00, over an agent's limit (3,000.00), so an agent reviews it, another agent may
    //    not approve it, and a supervisor does.
    let admin = token(Uuid::new_v4(), Role::Admin);
    let policy = json!({"name": "pro rata", "effective_from": Utc::now() - Duration::days(90),
        "rules": [{"type": "cooling_off", "days": 7}, {"type": "pro_rata_sessions"}]});
    let (status, p) = stack.post_json("refund", "/v1/policies", &admin, &policy).await;
    assert_eq!(status, 201, "{p}");
    let version = p["version"].as_i64().expect("version");
    let student = Uuid::new_v4();
    let ticket = stack
        .open_ticket(
            student,
            "Refund for the remaining sessions",
            "We are moving to another city and cannot continue the course. Please refund the sessions left.",
        )
        .await;
    let ticket_id = id(&ticket);
    let enrolment = enrol(&stack, student, 840_000, 40, 14).await;
    let (status, e) = stack
        .put_json(
            "refund",
            &format!("/v1/enrolments/{enrolment}/attendance"),
            &admin,
            &json!({"attended_sessions": 4}),
        )
        .await;
    assert_eq!(status, 200, "{e}");
    let r = file(&stack, student, enrolment, "relocation", Some(&ticket_id)).await;
    assert_eq!(
        (
            &r["status"],
            &r["quote"]["amount_minor"],
            &r["quote"]["policy_version"],
            &r["decider"]
        ),
        (
            &json!("requested"),
            &json!(600_000),
            &json!(version),
            &json!("supervisor")
        ),
        "{r}"
    );
    let request = id(&r);
    let reference = request.replace('-', "")[..8].to_uppercase();
    let (reviewer, approver) = (Uuid::new_v4(), Uuid::new_v4());
    let (status, reviewed) = stack
        .post_empty(
            "refund",
            &format!("/v1/refund-requests/{request}/review"),
            &token(reviewer, Role::Agent),
        )
        .await;
    assert_eq!(
        (status, &reviewed["status"]),
        (200, &json!("under_review")),
        "{reviewed}"
    );
    let (status, refused) = stack
        .post_json(
            "refund",
            &format!("/v1/refund-requests/{request}/approve"),
            &token(approver, Role::Agent),
            &json!({}),
        )
        .await;
    assert_eq!(
        (status, &refused["code"]),
        (403, &json!("supervisor_required")),
        "{refused}"
    );
    let (status, decided) = stack
        .post_json(
            "refund",
            &format!("/v1/refund-requests/{request}/approve"),
            &token(Uuid::new_v4(), Role::Supervisor),
            &json!({"note": "relocation, documents checked"}),
        )
        .await;
    assert_eq!(
        (status, &decided["status"], &decided["approved_minor"]),
        (200, &json!("approved"), &json!(600_000)),
        "{decided}"
    );
    let approved = message(&stack, student, "refund_request_approved").await;
    assert!(
        approved["body"]
            .as_str()
            .is_some_and(|b| b.contains("6,000.00 元") && b.contains(&reference)),
        "{approved}"
    );
    // The ticket is in English: so are its notes.
    noted(
        &stack,
        &ticket_id,
        &[&reference, "asked for under refund policy v", "6,000.00 CNY"],
    )
    .await;
    noted(&stack, &ticket_id, &[&reference, "approved by staff for 6,000.00 CNY"]).await;

    // 3. A request withdrawn before a decision, then one rejected: the customer hears why, and
    //    the ticket it was filed from is resolved.
    let parent = Uuid::new_v4();
    let ticket = stack
        .open_ticket(parent, "退费申请", "课程质量和宣传不符，申请退还学费。")
        .await;
    let ticket_id = id(&ticket);
    let enrolment = enrol(&stack, parent, 300_000, 40, 10).await;
    let withdrawn = file(&stack, parent, enrolment, "course_quality", None).await;
    let (status, c) = stack
        .post_empty(
            "refund",
            &format!("/v1/refund-requests/{}/cancel", id(&withdrawn)),
            &token(parent, Role::Customer),
        )
        .await;
    assert_eq!((status, &c["status"]), (200, &json!("cancelled")), "{c}");
    message(&stack, parent, "refund_request_cancelled").await;
    let r = file(&stack, parent, enrolment, "course_quality", Some(&ticket_id)).await;
    let reason = "课程内容与宣传一致，且已超过冷静期";
    let (status, rejected) = stack
        .post_json(
            "refund",
            &format!("/v1/refund-requests/{}/reject", id(&r)),
            &token(Uuid::new_v4(), Role::Agent),
            &json!({"note": reason}),
        )
        .await;
    assert_eq!((status, &rejected["status"]), (200, &json!("rejected")), "{rejected}");
    let told = message(&stack, parent, "refund_request_rejected").await;
    assert!(told["body"].as_str().is_some_and(|b| b.contains(reason)), "{told}");
    testkit::eventually(30, "the ticket resolved", || async {
        Ok((ticket_status(&stack, &ticket_id).await == "resolved").then_some(()))
    })
    .await
    .expect("resolved");
    noted(&stack, &ticket_id, &["已拒绝", reason, "工单随之解决"]).await;
    message(&stack, parent, "ticket_resolved").await;

    // 4. Every refund template renders, on each channel and in each locale, with the data of
    //    refund's own events (its outbox), through notifications' preview.
    let refund_db = sqlx::PgPool::connect(&stack.database_url("refund"))
        .await
        .expect("refund db");
    for (event_type, notification, amount) in [
        ("refund.request.submitted", "refund_request_received", "6,000.00"),
        ("refund.request.approved", "refund_request_approved", "6,000.00"),
        ("refund.request.rejected", "refund_request_rejected", reason),
        ("refund.request.cancelled", "refund_request_cancelled", "math-101"),
    ] {
        let data: Value = sqlx::query_scalar(
            "SELECT envelope->'data' FROM outbox_event WHERE event_type = $1 \
             ORDER BY (envelope->'data'->>'amount_minor')::bigint DESC, id DESC LIMIT 1",
        )
        .bind(event_type)
        .fetch_one(&refund_db)
        .await
        .unwrap_or_else(|e| panic!("{event_type}: {e}"));
        for channel in ["in_app", "email"] {
            for locale in ["zh-CN", "en"] {
                let preview = json!({"notification": notification, "channel": channel, "locale": locale, "data": data});
                let (status, rendered) = stack
                    .post_json("notifications", "/v1/templates/preview", &admin, &preview)
                    .await;
                assert_eq!(status, 200, "{notification}/{channel}/{locale}: {rendered}");
                assert_eq!(rendered["locale"], locale, "its own template: {rendered}");
                let (subject, body) = (
                    rendered["subject"].as_str().unwrap_or_default(),
                    rendered["body"].as_str().unwrap_or_default(),
                );
                assert!(
                    !subject.is_empty() && body.contains(amount),
                    "{notification}/{channel}/{locale}: {rendered}"
                );
            }
        }
    }
    refund_db.close().await;
    stack.stop().await.expect("stop");
}
