//! A ticket opened at intake reaches the customer's inbox through routing and notifications,
//! carrying one trace, and nothing is lost or doubled while notifications is down.

use platform::auth::Role;
use serde_json::{Value, json};
use system_tests::{Stack, token};
use uuid::Uuid;

async fn open_ticket(stack: &Stack, customer: Uuid, key: &str, traceparent: Option<&str>) -> Value {
    let mut req = stack
        .client
        .post(format!("{}/v1/tickets", stack.url("intake")))
        .bearer_auth(token(customer, Role::Customer))
        .header("Idempotency-Key", key)
        .json(&json!({"channel": "web", "subject": "无法进入直播课", "body": "点击进入教室后页面一直加载"}));
    if let Some(tp) = traceparent {
        req = req.header("traceparent", tp);
    }
    let res = req.send().await.expect("create");
    assert_eq!(res.status(), 201);
    res.json().await.expect("json")
}

async fn inbox(stack: &Stack, customer: Uuid) -> Vec<Value> {
    let (_, body) = stack
        .get_status("notifications", "/v1/inbox?limit=100", &token(customer, Role::Customer))
        .await;
    body["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_ticket_reaches_the_inbox_with_one_trace_and_survives_a_notifications_outage() {
    let mut stack = Stack::start(&[]).await.expect("stack");

    // 1. Open a ticket with a known trace; a retry with the same key opens nothing new.
    let customer = Uuid::new_v4();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("00-{trace_id}-00f067aa0ba902b7-01");
    let ticket = open_ticket(&stack, customer, "first", Some(&traceparent)).await;
    let again = open_ticket(&stack, customer, "first", None).await;
    assert_eq!(again["id"], ticket["id"]);
    let ticket_id = ticket["id"].as_str().expect("id").to_owned();

    // 2. Routing put it in a live queue.
    let agent = token(Uuid::new_v4(), Role::Agent);
    let entry = testkit::eventually(15, "the queue entry", || async {
        let (status, entry) = stack
            .get_status("routing", &format!("/v1/queue-entries/{ticket_id}"), &agent)
            .await;
        Ok((status == 200).then_some(entry))
    })
    .await
    .expect("queued");
    assert_eq!(entry["status"], "waiting");

    // 3. Notifications delivered "ticket received" to the customer's inbox, once, on the trace.
    let items = testkit::eventually(15, "the inbox message", || async {
        let items = inbox(&stack, customer).await;
        Ok((!items.is_empty()).then_some(items))
    })
    .await
    .expect("delivered");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["kind"], "ticket_received");
    let admin = token(Uuid::new_v4(), Role::Admin);
    let deliveries = format!("/v1/deliveries?recipient_id={customer}");
    let (status, log) = stack.get_status("notifications", &deliveries, &admin).await;
    assert_eq!(status, 200, "{log}");
    assert_eq!(
        log["items"][0]["trace_id"], trace_id,
        "one trace from the intake request to the notification"
    );

    // 4. Notifications goes down; tickets keep coming; it comes back and delivers each once.
    stack.service("notifications").stop().await.expect("stop notifications");
    let customers: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
    for (i, c) in customers.iter().enumerate() {
        open_ticket(&stack, *c, &format!("outage-{i}"), None).await;
    }
    stack
        .service("notifications")
        .restart()
        .await
        .expect("restart notifications");
    for c in &customers {
        let items = testkit::eventually(20, "a message after the restart", || async {
            let items = inbox(&stack, *c).await;
            Ok((!items.is_empty()).then_some(items))
        })
        .await
        .expect("delivered after restart");
        assert_eq!(items.len(), 1);
    }
    // Give any duplicate a chance to show up before counting again.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    for c in &customers {
        assert_eq!(inbox(&stack, *c).await.len(), 1, "exactly once");
    }
    assert_eq!(inbox(&stack, customer).await.len(), 1);

    stack.stop().await.expect("clean stop");
}
