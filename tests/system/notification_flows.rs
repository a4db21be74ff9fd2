//! Notifications across a crash: the process is killed (SIGKILL) in the middle of a burst and
//! started again; every event reaches the inbox exactly once and every webhook goes out.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use lapin::options::BasicPublishOptions;
use platform::auth::Role;
use serde_json::json;
use system_tests::{Stack, token};
use testkit::sinks::HttpSink;
use uuid::Uuid;

const EVENTS: usize = 1000;

#[tokio::test]
async fn a_killed_notifications_service_delivers_every_message_exactly_once_after_restart() {
    let hook = HttpSink::start().await.expect("sink");
    let mut stack = Stack::start_with(
        &[],
        &[
            ("notifications", "SERVICE__LEASE_SECS", "3"),
            ("notifications", "SERVICE__SEND_TIMEOUT_MS", "2000"),
            ("notifications", "SERVICE__IDLE_POLL_MS", "100"),
        ],
    )
    .await
    .expect("stack");
    let admin = token(Uuid::new_v4(), Role::Admin);
    let endpoint = json!({"url": format!("{}/crm", hook.url()), "event_types": ["routing.ticket.queued"],
                          "allow_private": true});
    let (status, created) = stack
        .post_json("notifications", "/v1/webhook-endpoints", &admin, &endpoint)
        .await;
    assert_eq!(status, 201, "{created}");
    // Slow the receiver a little so the kill lands while sends are in flight.
    hook.set_delay(Duration::from_millis(2));

    let exchange = stack
        .service("notifications")
        .setting("BUS__EXCHANGE")
        .expect("exchange")
        .to_owned();
    let conn = lapin::Connection::connect(&testkit::amqp_url(), lapin::ConnectionProperties::default())
        .await
        .expect("amqp");
    let ch = conn.create_channel().await.expect("channel");
    let customers: Vec<Uuid> = (0..EVENTS).map(|_| Uuid::new_v4()).collect();
    for c in &customers {
        let env = json!({"specversion": "1.0", "id": Uuid::now_v7(), "source": "/routing",
            "type": "routing.ticket.queued", "time": Utc::now(), "datacontenttype": "application/json",
            "dataschema": "urn:edu-support:routing.ticket.queued:v1",
            "data": {"ticket_id": Uuid::now_v7(), "customer_id": c, "queue": "general", "channel": "web",
                     "priority": "normal", "queued_at": Utc::now()}});
        ch.basic_publish(
            exchange.as_str().into(),
            "routing.ticket.queued".into(),
            BasicPublishOptions::default(),
            &serde_json::to_vec(&env).expect("json"),
            lapin::BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .expect("publish")
        .await
        .expect("confirm");
    }
    hook.wait_for(EVENTS / 10, 60).await.expect("the burst under way");
    stack.service("notifications").kill().await.expect("kill");
    let at_kill = hook.count();
    stack.service("notifications").restart().await.expect("restart");

    let received = testkit::eventually(120, "every webhook", || async {
        let ids: HashSet<String> = hook.requests().iter().filter_map(|r| r.header("webhook-id")).collect();
        Ok((ids.len() >= EVENTS).then_some(ids))
    })
    .await
    .expect("webhooks");
    assert_eq!(received.len(), EVENTS);

    let pool = sqlx::PgPool::connect(&stack.database_url("notifications"))
        .await
        .expect("db");
    let (rows, events): (i64, i64) = testkit::eventually(60, "every inbox message", || async {
        let r: (i64, i64) = sqlx::query_as(
            "SELECT count(*), count(DISTINCT event_id) FROM delivery WHERE channel = 'in_app' AND status = 'delivered'",
        )
        .fetch_one(&pool)
        .await?;
        Ok((r.0 >= EVENTS as i64).then_some(r))
    })
    .await
    .expect("inbox");
    assert_eq!(
        (rows, events),
        (EVENTS as i64, EVENTS as i64),
        "exactly one inbox message per event"
    );
    // The receiver has them all; their batches' outcomes are being written.
    testkit::eventually(30, "every webhook delivery settled", || async {
        let open: i64 =
            sqlx::query_scalar("SELECT count(*) FROM delivery WHERE channel = 'webhook' AND status <> 'delivered'")
                .fetch_one(&pool)
                .await?;
        Ok((open == 0).then_some(()))
    })
    .await
    .expect("settled");
    // Sends in flight at the kill may reach the receiver again, under the same webhook-id
    // (receivers drop repeats by it, as Standard Webhooks asks); nothing else repeats.
    let repeats = hook.count() - received.len();
    assert!(repeats <= 4 * 200, "{repeats} repeats");
    eprintln!("killed after {at_kill} webhooks; {repeats} sends in flight were repeated after the restart");
    let someone = token(customers[0], Role::Customer);
    let (status, inbox) = stack.get_status("notifications", "/v1/inbox", &someone).await;
    assert_eq!(status, 200, "{inbox}");
    assert_eq!(inbox["items"].as_array().map(Vec::len), Some(1));
    stack.stop().await.expect("stop");
}
