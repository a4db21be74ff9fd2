//! Refund requests followed on the tickets they were filed from: refund's `refund.request.*`
//! events become internal notes, and a request's end resolves its ticket.

use chrono::Utc;
use contracts::refund::{
    RefundApprovedV1, RefundCancelledV1, RefundQuotedV1, RefundRejectedV1, RefundRequestV1, RefundSubmittedV1,
};
use contracts::{CustomerId, EventEnvelope};
use platform::auth::Role;
use serde_json::{Value, json};
use testkit::TestApp;
use uuid::Uuid;

use super::{act, app, open};

/// A customer's new ticket: its id and the customer.
async fn ticket(app: &TestApp, subject: &str, body: &str) -> (Uuid, Uuid) {
    let customer = Uuid::new_v4();
    let t = open(app, &app.token(customer, Role::Customer), subject, body).await;
    assert_eq!(t["status"], "queued", "{t}");
    (t["id"].as_str().and_then(|s| s.parse().ok()).expect("id"), customer)
}

/// Request `id` of `customer` filed from `ticket`, as refund's events carry it.
fn request(id: Uuid, customer: Uuid, ticket: Option<Uuid>, status: &str, amount_minor: i64) -> RefundRequestV1 {
    RefundRequestV1 {
        request_id: id,
        enrolment_id: Uuid::new_v4(),
        customer_id: CustomerId(customer),
        ticket_id: ticket.map(Into::into),
        status: status.into(),
        reason: "relocation".into(),
        course_id: "math-101".into(),
        amount_minor,
        currency: "CNY".into(),
        policy_version: 2,
        in_cooling_off: false,
        actor_id: Some(customer),
        note: None,
        at: Utc::now(),
    }
}

/// Waits until the refund consumer has taken `n` events (applied, noted or ignored).
async fn consumed(app: &TestApp, n: i64) {
    testkit::eventually(20, "the refund events consumed", || async {
        let done = app
            .count("SELECT count(*) FROM processed_event WHERE consumer = 'refund-requests'")
            .await;
        Ok((done >= n).then_some(()))
    })
    .await
    .expect("consumed");
}

/// The ticket's thread as an agent sees it (internal notes included).
async fn thread(app: &TestApp, ticket: Uuid) -> Vec<Value> {
    let agent = app.token(Uuid::new_v4(), Role::Agent);
    let v = app.get_json(&format!("/v1/tickets/{ticket}/messages"), &agent).await;
    v["items"].as_array().cloned().expect("items")
}

/// The refund notes on the ticket: their bodies, oldest first.
async fn notes(app: &TestApp, ticket: Uuid) -> Vec<String> {
    thread(app, ticket)
        .await
        .iter()
        .filter(|m| m["kind"] == "note")
        .map(|m| {
            assert_eq!(
                (&m["author_role"], &m["visibility"]),
                (&json!("system"), &json!("internal")),
                "{m}"
            );
            m["body"].as_str().expect("body").to_owned()
        })
        .collect()
}

async fn status(app: &TestApp, ticket: Uuid) -> Value {
    let agent = app.token(Uuid::new_v4(), Role::Agent);
    app.get_json(&format!("/v1/tickets/{ticket}"), &agent).await
}

/// How many events intake staged of `kind` about the ticket.
async fn staged(app: &TestApp, ticket: Uuid, kind: &str) -> i64 {
    app.count(&format!(
        "SELECT count(*) FROM outbox_event WHERE event_type = '{kind}' AND envelope->>'subject' = '{ticket}'"
    ))
    .await
}

#[tokio::test]
async fn each_step_of_a_request_is_noted_on_its_ticket_and_the_rejection_resolves_it() {
    let app = app().await;
    let (ticket, customer) = ticket(
        &app,
        "Refund for the course",
        "We are moving abroad and would like a refund for the remaining sessions.",
    )
    .await;
    let id = Uuid::now_v7();
    let mut filed = request(id, customer, Some(ticket), "requested", 600_000);
    app.publish(&EventEnvelope::new("refund", RefundSubmittedV1(filed.clone())).in_sequence(1))
        .await;
    filed.actor_id = None;
    filed.amount_minor = 600_000;
    app.publish(&EventEnvelope::new("refund", RefundQuotedV1(filed.clone())).in_sequence(2))
        .await;
    consumed(&app, 2).await;
    let ref_ = id.simple().to_string()[..8].to_uppercase();
    let noted = notes(&app, ticket).await;
    assert_eq!(noted.len(), 2, "{noted:?}");
    assert!(noted.contains(&format!(
        "Refund request {ref_} submitted by the customer (course math-101, reason relocation): \
         6,000.00 CNY asked for under refund policy v2."
    )));
    assert!(noted.contains(&format!(
        "Refund request {ref_} quoted 6,000.00 CNY by refund policy v2."
    )));
    assert_eq!(status(&app, ticket).await["status"], "queued", "a filed request waits");

    // The customer never sees the notes.
    let mine = app
        .get_json(
            &format!("/v1/tickets/{ticket}/messages"),
            &app.token(customer, Role::Customer),
        )
        .await;
    assert!(
        mine["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|m| m["kind"] != "note"),
        "{mine}"
    );

    let mut rejected = request(id, customer, Some(ticket), "rejected", 600_000);
    rejected.actor_id = Some(Uuid::new_v4());
    rejected.note = Some("More than half of the sessions were attended.".into());
    let envelope = EventEnvelope::new("refund", RefundRejectedV1(rejected)).in_sequence(4);
    app.publish(&envelope).await;
    app.publish(&envelope).await;
    consumed(&app, 3).await;
    let t = testkit::eventually(10, "resolved", || async {
        let t = status(&app, ticket).await;
        Ok((t["status"] == "resolved").then_some(t))
    })
    .await
    .expect("resolved");
    assert_eq!(t["resolved_by"], Uuid::nil().to_string(), "by the service itself");
    let noted = notes(&app, ticket).await;
    assert_eq!(noted.len(), 3, "a redelivered event is noted once: {noted:?}");
    assert!(
        noted.contains(&format!(
            "Refund request {ref_} rejected (6,000.00 CNY asked for).\n\
             Note: More than half of the sessions were attended.\n\
             The request has ended, so the ticket is resolved."
        )),
        "{noted:?}"
    );
    // Each note is announced (internal) with the ticket's next number, then the resolution.
    assert_eq!(staged(&app, ticket, "intake.ticket.message_added").await, 3);
    assert_eq!(staged(&app, ticket, "intake.ticket.resolved").await, 1);
    let seqs: Vec<i64> = sqlx::query_scalar(
        "SELECT (envelope->>'subjectseq')::bigint FROM outbox_event WHERE envelope->>'subject' = $1 \
         ORDER BY (envelope->>'subjectseq')::bigint",
    )
    .bind(ticket.to_string())
    .fetch_all(&app.platform.pool)
    .await
    .expect("seqs");
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "numbered without gaps"
    );
}

#[tokio::test]
async fn an_approval_is_noted_in_the_tickets_language_and_leaves_the_ticket_to_the_agent() {
    let app = app().await;
    let (ticket, customer) = ticket(&app, "申请退款", "报名两天了，孩子上课时间和学校冲突，想申请全额退款。").await;
    let id = Uuid::now_v7();
    let mut r = request(id, customer, Some(ticket), "requested", 59_900);
    r.reason = "schedule".into();
    r.in_cooling_off = true;
    r.policy_version = 0;
    app.publish(&EventEnvelope::new("refund", RefundSubmittedV1(r.clone())).in_sequence(1))
        .await;
    r.actor_id = None;
    app.publish(&EventEnvelope::new("refund", RefundQuotedV1(r.clone())).in_sequence(2))
        .await;
    r.status = "approved".into();
    app.publish(&EventEnvelope::new("refund", RefundApprovedV1(r)).in_sequence(3))
        .await;
    consumed(&app, 3).await;
    let ref_ = id.simple().to_string()[..8].to_uppercase();
    let noted = notes(&app, ticket).await;
    assert_eq!(noted.len(), 3, "{noted:?}");
    for expected in [
        format!(
            "退款申请 {ref_} 已由客户提交（课程 math-101，原因：上课时间）：申请金额 599.00 CNY，适用退费政策 v0，在冷静期内。"
        ),
        format!("退款申请 {ref_} 按退费政策 v0 报价 599.00 CNY，在冷静期内。"),
        format!("退款申请 {ref_} 已自动批准，退款金额 599.00 CNY。"),
    ] {
        assert!(noted.contains(&expected), "{expected} in {noted:?}");
    }
    let t = status(&app, ticket).await;
    assert_eq!(t["status"], "queued", "the payout follows an approval: {t}");
    assert_eq!(staged(&app, ticket, "intake.ticket.status_changed").await, 0);
}

/// Refund's events arrive in any order: every step is noted whenever it comes, but only the
/// newest decides the ticket's state, and a request's end resolves its ticket once.
#[tokio::test]
async fn late_and_later_steps_note_once_and_resolve_the_ticket_only_once() {
    let app = app().await;
    let (ticket, customer) = ticket(&app, "退费申请", "因为搬家没法继续上课，申请退还剩余学费。").await;
    let id = Uuid::now_v7();
    let customer_token = app.token(customer, Role::Customer);
    // The cancellation (3) arrives before the filing (1, 2).
    let cancelled = request(id, customer, Some(ticket), "cancelled", 120_000);
    app.publish(&EventEnvelope::new("refund", RefundCancelledV1(cancelled)).in_sequence(3))
        .await;
    consumed(&app, 1).await;
    assert_eq!(status(&app, ticket).await["status"], "resolved");
    // The customer reopens it; the late filing must not resolve it again.
    let (code, reopened) = act(&app, &customer_token, &ticket.to_string(), "reopen").await;
    assert_eq!(code, 200, "{reopened}");
    let filed = request(id, customer, Some(ticket), "requested", 120_000);
    app.publish(&EventEnvelope::new("refund", RefundSubmittedV1(filed.clone())).in_sequence(1))
        .await;
    app.publish(&EventEnvelope::new("refund", RefundQuotedV1(filed)).in_sequence(2))
        .await;
    consumed(&app, 3).await;
    let noted = notes(&app, ticket).await;
    assert_eq!(noted.len(), 3, "every step noted, late or not: {noted:?}");
    assert!(noted.iter().any(|n| n.contains("已撤销") && n.contains("工单随之解决")));
    assert_eq!(status(&app, ticket).await["status"], "queued");
    assert_eq!(staged(&app, ticket, "intake.ticket.resolved").await, 1);
    let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM refund_request WHERE id = $1")
        .bind(id)
        .fetch_one(&app.platform.pool)
        .await
        .expect("state");
    assert_eq!(seq, Some(3), "the newest step applied stays");

    // A later step of another request of the ticket (payouts: `paid`, then `closed`) ends it:
    // the first end resolves the ticket, the next one leaves the reopened ticket open.
    let payout = Uuid::now_v7();
    let later = |kind: &str, status: &str, seq: i64| {
        let mut data = serde_json::to_value(request(payout, customer, Some(ticket), status, 80_000)).expect("json");
        data["actor_id"] = Value::Null;
        json!({"specversion": "1.0", "id": Uuid::now_v7(), "source": "/refund", "type": kind,
               "time": Utc::now(), "subject": payout, "datacontenttype": "application/json",
               "dataschema": format!("urn:edu-support:{kind}:v1"), "subjectseq": seq, "data": data})
    };
    app.publish_value("refund.request.paid", &later("refund.request.paid", "paid", 5))
        .await;
    consumed(&app, 4).await;
    assert_eq!(status(&app, ticket).await["status"], "resolved");
    let (code, _) = act(&app, &customer_token, &ticket.to_string(), "reopen").await;
    assert_eq!(code, 200);
    app.publish_value("refund.request.closed", &later("refund.request.closed", "closed", 6))
        .await;
    consumed(&app, 5).await;
    assert_eq!(status(&app, ticket).await["status"], "queued", "ended once");
    let noted = notes(&app, ticket).await;
    assert!(
        noted.iter().any(|n| n.contains("状态更新：已退款（800.00 CNY）")),
        "{noted:?}"
    );
    assert_eq!(staged(&app, ticket, "intake.ticket.resolved").await, 2);
}

#[tokio::test]
async fn requests_without_a_known_ticket_of_their_customer_are_ignored_not_retried() {
    let app = app().await;
    let (ticket, customer) = ticket(&app, "Refund", "I would like a refund for my course, please.").await;
    let stranger = Uuid::new_v4();
    let cases = [
        // A ticket intake does not know.
        request(Uuid::now_v7(), customer, Some(Uuid::now_v7()), "rejected", 100),
        // Another customer's ticket.
        request(Uuid::now_v7(), stranger, Some(ticket), "rejected", 100),
        // No ticket at all.
        request(Uuid::now_v7(), customer, None, "rejected", 100),
    ];
    for r in cases {
        app.publish(&EventEnvelope::new("refund", RefundRejectedV1(r)).in_sequence(4))
            .await;
    }
    // Another major version of the payload is not this consumer's.
    let mut v2 = serde_json::to_value(EventEnvelope::new(
        "refund",
        RefundRejectedV1(request(Uuid::now_v7(), customer, Some(ticket), "rejected", 100)),
    ))
    .expect("json");
    v2["dataschema"] = json!("urn:edu-support:refund.request.rejected:v2");
    app.publish_value("refund.request.rejected", &v2).await;
    consumed(&app, 4).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(notes(&app, ticket).await.is_empty());
    assert_eq!(status(&app, ticket).await["status"], "queued");
    assert_eq!(app.count("SELECT count(*) FROM refund_request").await, 0);
    // Acknowledged, not retried: nothing waits in the retry or parking queues.
    let (code, parked) = app
        .get_status("/v1/admin/parking", &app.token(Uuid::new_v4(), Role::Admin))
        .await;
    assert_eq!(code, 200, "{parked}");
    assert!(
        parked["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|q| q["parked"] == 0),
        "{parked}"
    );
}
