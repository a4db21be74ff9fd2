//! Events carry an order: intake numbers the events it publishes about a ticket
//! (`subjectseq`), and applies routing's events about a ticket only when they are newer than
//! the last one it applied, whatever order they arrive in.

use contracts::EventEnvelope;
use contracts::routing::TicketAssignedV1;
use contracts::vocabulary::Channel;
use platform::auth::Role;
use serde_json::{Value, json};
use testkit::TestApp;
use uuid::Uuid;

use super::{act, app, app_with, open, walk};

/// `(event type, subjectseq)` of every event about `ticket`, in the order they were staged.
async fn numbered(app: &TestApp, ticket: &str) -> Vec<(String, Option<i64>)> {
    sqlx::query_as(
        "SELECT event_type, (envelope->>'subjectseq')::bigint FROM outbox_event \
         WHERE envelope->>'subject' = $1 ORDER BY id",
    )
    .bind(ticket)
    .fetch_all(&app.platform.pool)
    .await
    .expect("events")
}

/// The numbers are 1, 2, 3, … in the order the events were staged, and the ticket's version is
/// the last.
async fn assert_numbered_in_order(app: &TestApp, ticket: &str) -> Vec<String> {
    let events = numbered(app, ticket).await;
    let seqs: Vec<Option<i64>> = events.iter().map(|(_, s)| *s).collect();
    let expected: Vec<Option<i64>> = (1..=events.len() as i64).map(Some).collect();
    assert_eq!(seqs, expected, "{events:?}");
    let version: i64 = sqlx::query_scalar("SELECT version FROM ticket WHERE id = $1::uuid")
        .bind(ticket)
        .fetch_one(&app.platform.pool)
        .await
        .expect("version");
    assert_eq!(version, events.len() as i64);
    events.into_iter().map(|(t, _)| t).collect()
}

#[tokio::test]
async fn every_event_about_a_ticket_carries_the_next_number() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let me = app.token(customer, Role::Customer);
    let agent = app.token(Uuid::new_v4(), Role::Agent);
    let service = testkit::service_token(Uuid::new_v4(), &["tickets:write"]);
    let t = open(&app, &me, "作业提交不了", "点提交按钮没有反应").await;
    let t = t["id"].as_str().expect("id").to_owned();
    let say = |token: String, body: Value| {
        let app = &app;
        let path = format!("/v1/tickets/{t}/messages");
        async move {
            let (code, m) = app.post_json(&path, &token, &body).await;
            assert_eq!(code, 201, "{m}");
        }
    };
    walk(&app, &service, &t, &["assign"]).await;
    walk(&app, &agent, &t, &["start"]).await;
    say(agent.clone(), json!({"body": "Which browser do you use?"})).await;
    walk(&app, &agent, &t, &["wait_on_customer"]).await;
    // The customer's answer: a message, and the ticket back in progress.
    say(me.clone(), json!({"body": "Chrome"})).await;
    say(agent.clone(), json!({"body": "Checked the logs", "kind": "note"})).await;
    walk(&app, &agent, &t, &["resolve"]).await;
    let token: String = sqlx::query_scalar(
        "SELECT envelope->'data'->>'token' FROM outbox_event WHERE event_type = 'intake.survey.requested' \
         AND envelope->>'subject' = $1",
    )
    .bind(&t)
    .fetch_one(&app.platform.pool)
    .await
    .expect("survey requested");
    let answered = app
        .client
        .post(format!("{}/v1/surveys/{token}", app.url))
        .json(&json!({"score": 4}))
        .send()
        .await
        .expect("answer");
    assert_eq!(answered.status(), 201);
    walk(&app, &me, &t, &["reopen"]).await;
    walk(&app, &agent, &t, &["start", "resolve"]).await;
    let (code, _) = act(&app, &me, &t, "close").await;
    assert_eq!(code, 200);

    let types = assert_numbered_in_order(&app, &t).await;
    let short: Vec<&str> = types.iter().map(|t| t.trim_start_matches("intake.")).collect();
    assert_eq!(
        short,
        [
            "ticket.created",
            "ticket.status_changed", // assigned
            "ticket.status_changed", // in progress
            "ticket.message_added",
            "ticket.status_changed", // waiting on customer
            "ticket.message_added",
            "ticket.status_changed", // customer replied
            "ticket.message_added",  // the note
            "ticket.status_changed", // resolved
            "ticket.resolved",
            "survey.requested",
            "survey.answered",
            "ticket.status_changed", // reopened
            "ticket.reopened",
            "ticket.status_changed",
            "ticket.status_changed",
            "ticket.resolved",
            "ticket.status_changed", // closed
        ]
    );

    // On the bus too: the relayed envelopes carry the numbers.
    testkit::eventually(10, "all relayed", || async {
        let left = app
            .count(&format!(
                "SELECT count(*) FROM outbox_event WHERE envelope->>'subject' = '{t}' AND published_at IS NULL"
            ))
            .await;
        Ok((left == 0).then_some(()))
    })
    .await
    .expect("relayed");
}

#[tokio::test]
async fn an_answer_from_the_knowledge_base_is_numbered_after_the_ticket() {
    let app = app().await;
    let agent = app.token(Uuid::new_v4(), Role::Agent);
    let article = json!({
        "title": "忘记密码怎么重置",
        "body": "在登录页点击“忘记密码”，输入注册手机号，收到验证码后设置新密码即可。",
        "language": "zh-CN",
        "category": "other",
        "tags": ["faq"],
    });
    let (code, a) = app.post_json("/v1/kb/articles", &agent, &article).await;
    assert_eq!(code, 201, "{a}");
    let me = app.token(Uuid::new_v4(), Role::Customer);
    let t = open(&app, &me, "忘记密码了", "忘记密码怎么重置？").await;
    assert_eq!(t["status"], "auto_answered", "{t}");
    let id = t["id"].as_str().expect("id").to_owned();
    let (code, _) = app
        .post_json(
            &format!("/v1/tickets/{id}/answer-feedback"),
            &me,
            &json!({"solved": false}),
        )
        .await;
    assert_eq!(code, 200);
    let types = assert_numbered_in_order(&app, &id).await;
    assert_eq!(
        &types[..3],
        [
            "intake.ticket.created",
            "intake.ticket.message_added",
            "intake.ticket.status_changed"
        ]
    );
}

/// An assignment by routing, its `seq`-th event about the ticket.
fn assigned(ticket: Uuid, customer: Uuid, agent: Uuid, seq: i64) -> EventEnvelope<TicketAssignedV1> {
    EventEnvelope::new(
        "routing",
        TicketAssignedV1 {
            ticket_id: ticket.into(),
            customer_id: customer.into(),
            agent_id: agent.into(),
            queue: "general".into(),
            channel: Channel::Web,
            tier: "junior".into(),
            how: "offer".into(),
            assigned_at: chrono::Utc::now(),
        },
    )
    .in_sequence(seq)
}

/// A new queued ticket: its id and customer.
async fn queued(app: &TestApp, n: usize) -> (Uuid, Uuid) {
    let customer = Uuid::new_v4();
    let token = app.token(customer, Role::Customer);
    let t = open(
        app,
        &token,
        &format!("课程表在哪里看 {n}"),
        "请问下周的课程表在哪里可以看到？",
    )
    .await;
    assert_eq!(t["status"], "queued");
    (t["id"].as_str().and_then(|s| s.parse().ok()).expect("id"), customer)
}

/// Waits until the assignment consumer has taken `n` events (applied or skipped as stale).
async fn consumed(app: &TestApp, n: i64) {
    testkit::eventually(20, "the assignments consumed", || async {
        let done = app
            .count("SELECT count(*) FROM processed_event WHERE consumer = 'routing-assigned'")
            .await;
        Ok((done >= n).then_some(()))
    })
    .await
    .expect("consumed");
}

/// The ticket's assignee, status and last routing number applied.
async fn state(app: &TestApp, ticket: Uuid) -> (Option<Uuid>, String, Option<i64>) {
    sqlx::query_as("SELECT assignee_id, status, routing_seq FROM ticket WHERE id = $1")
        .bind(ticket)
        .fetch_one(&app.platform.pool)
        .await
        .expect("ticket")
}

#[tokio::test]
async fn a_late_assignment_does_not_undo_a_newer_one() {
    let app = app().await;
    let (ticket, customer) = queued(&app, 0).await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    // Newest first: seq 3 (agent B) is applied, then seq 2 (agent A) arrives late. (Published
    // together, the two could be handled side by side by two consuming loops, in either order.)
    app.publish(&assigned(ticket, customer, b, 3)).await;
    consumed(&app, 1).await;
    app.publish(&assigned(ticket, customer, a, 2)).await;
    consumed(&app, 2).await;
    assert_eq!(state(&app, ticket).await, (Some(b), "assigned".to_owned(), Some(3)));
    let changes = app
        .count(&format!(
            "SELECT count(*) FROM outbox_event WHERE event_type = 'intake.ticket.status_changed' \
             AND envelope->>'subject' = '{ticket}'"
        ))
        .await;
    assert_eq!(changes, 1, "the stale assignment published nothing");
}

#[tokio::test]
async fn shuffled_routing_events_end_in_the_newest_assignment() {
    let app = app_with(&[("BUS__RETRY_DELAYS_MS", "100,200,400,800")]).await;
    // Routing's numbers for one ticket (other routing events in between take the gaps).
    let seqs = [2_i64, 3, 5, 8, 9];
    let orders: [[usize; 5]; 6] = [
        [4, 3, 2, 1, 0], // newest first
        [0, 1, 2, 3, 4], // in order
        [4, 0, 1, 2, 3], // newest first, then the rest in order
        [1, 4, 0, 3, 2],
        [3, 0, 4, 2, 1],
        [2, 4, 1, 0, 3],
    ];
    let mut expected = Vec::new();
    for (n, order) in orders.iter().enumerate() {
        let (ticket, customer) = queued(&app, n).await;
        let agents: Vec<Uuid> = seqs.iter().map(|_| Uuid::new_v4()).collect();
        for &i in order {
            app.publish(&assigned(ticket, customer, agents[i], seqs[i])).await;
        }
        expected.push((ticket, agents[4], order));
    }
    consumed(&app, (orders.len() * seqs.len()) as i64).await;
    for (ticket, newest, order) in expected {
        assert_eq!(
            state(&app, ticket).await,
            (Some(newest), "assigned".to_owned(), Some(9)),
            "delivered in the order {order:?}"
        );
    }
    // A ticket being worked on changes hands only for a newer assignment too.
    let (ticket, customer) = queued(&app, 99).await;
    let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    app.publish(&assigned(ticket, customer, a, 4)).await;
    consumed(&app, (orders.len() * seqs.len()) as i64 + 1).await;
    walk(&app, &app.token(a, Role::Agent), &ticket.to_string(), &["start"]).await;
    app.publish(&assigned(ticket, customer, c, 7)).await;
    app.publish(&assigned(ticket, customer, b, 6)).await;
    consumed(&app, (orders.len() * seqs.len()) as i64 + 3).await;
    assert_eq!(state(&app, ticket).await, (Some(c), "in_progress".to_owned(), Some(7)));
}
