//! Notifications against real PostgreSQL, Redis and RabbitMQ.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;

use chrono::Utc;
use contracts::routing::TicketQueuedV1;
use contracts::vocabulary::{Channel, Priority};
use contracts::{AgentId, CustomerId, EventEnvelope, TicketId};
use platform::auth::Role;
use platform::bus::HeaderValue;
use serde_json::Value;
use testkit::TestApp;
use uuid::Uuid;

mod admin;
mod channels;
mod clock;
mod matrix;
mod sends;

/// What every test runs with: a dispatcher that polls often and a catalog that is soon stale.
const QUICK: [(&str, &str); 2] = [("SERVICE__IDLE_POLL_MS", "50"), ("SERVICE__CATALOG_REFRESH_MS", "200")];

async fn app() -> TestApp {
    testkit::start(&notifications::SPEC, &QUICK).await
}

/// A fresh isolated environment with `extra` settings over [`QUICK`] (keys without the
/// `NOTIFICATIONS__` prefix); spawn it twice for two replicas.
pub async fn env_with(extra: &[(&str, &str)]) -> HashMap<String, String> {
    let settings: Vec<(&str, &str)> = QUICK.iter().chain(extra).copied().collect();
    testkit::env_for(&notifications::SPEC, &settings).await
}

/// Publishes an event of `event_type` with `data` as its producer would; returns its id.
pub async fn publish_event(app: &TestApp, event_type: &str, data: Value) -> Uuid {
    let id = Uuid::now_v7();
    let env = serde_json::json!({
        "specversion": "1.0", "id": id, "source": "/test", "type": event_type,
        "time": Utc::now(), "datacontenttype": "application/json",
        "dataschema": format!("urn:edu-support:{event_type}:v1"), "data": data,
    });
    app.publish_value(event_type, &env).await;
    id
}

/// The delivery log of one event (as an admin).
pub async fn log_of(app: &TestApp, query: &str) -> Vec<Value> {
    let admin = app.token(Uuid::new_v4(), Role::Admin);
    app.get_json(&format!("/v1/deliveries?{query}"), &admin).await["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Waits until the log for `query` holds a delivery on `channel` with `status`.
pub async fn wait_status(app: &TestApp, query: &str, channel: &str, status: &str, secs: u64) -> Value {
    testkit::eventually(secs, &format!("{channel} {status}"), || async {
        Ok(log_of(app, query)
            .await
            .into_iter()
            .find(|d| d["channel"] == channel && d["status"] == status))
    })
    .await
    .expect("delivery status")
}

/// Waits until the holder of `token` has something in their inbox; its items.
pub async fn inbox_items(app: &TestApp, token: &str, secs: u64, what: &str) -> Vec<Value> {
    testkit::eventually(secs, what, || async {
        let v = app.get_json("/v1/inbox", token).await;
        Ok(v["items"].as_array().filter(|a| !a.is_empty()).cloned())
    })
    .await
    .expect("inbox")
}

/// How many messages the holder of `token` has in their inbox (its first page).
pub async fn inbox_len(app: &TestApp, token: &str) -> Option<usize> {
    app.get_json("/v1/inbox", token).await["items"].as_array().map(Vec::len)
}

/// POSTs to `path` without a body; the status.
pub async fn post_empty(app: &TestApp, path: &str, token: &str) -> u16 {
    app.post(path, token).send().await.expect("post").status().as_u16()
}

/// Sets a recipient's preferences as a service would (the CRM, with `recipients:write`).
pub async fn set_prefs(app: &TestApp, id: Uuid, prefs: Value) {
    let service = testkit::service_token(Uuid::new_v4(), &["recipients:write"]);
    let (status, body) = app.put_json(&format!("/v1/recipients/{id}"), &service, &prefs).await;
    assert_eq!(status, 200, "{body}");
}

fn queued(customer: Uuid) -> EventEnvelope<TicketQueuedV1> {
    EventEnvelope::new(
        "routing",
        TicketQueuedV1 {
            ticket_id: TicketId::new(),
            customer_id: CustomerId::from(customer),
            queue: "general".into(),
            channel: Channel::Web,
            priority: Priority::Normal,
            queued_at: Utc::now(),
        },
    )
}

/// Publishes a queued ticket as routing would, with a `traceparent` header when given.
async fn publish(app: &TestApp, env: &EventEnvelope<TicketQueuedV1>, traceparent: Option<&str>) {
    let Some(tp) = traceparent else {
        return app.publish(env).await;
    };
    let body = serde_json::to_vec(env).expect("json");
    let headers = [("traceparent".to_owned(), HeaderValue::Text(tp.to_owned()))].into();
    app.publish_bytes("routing.ticket.queued", &body, headers).await;
}

async fn inbox(app: &TestApp, token: &str, query: &str) -> Value {
    app.get_json(&format!("/v1/inbox{query}"), token).await
}

#[tokio::test]
async fn a_queued_ticket_puts_one_message_in_the_customers_inbox_with_its_trace() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let token = app.token(customer, Role::Customer);
    let env = queued(customer);
    let tp = "00-11112222333344445555666677778888-1234567812345678-01";
    publish(&app, &env, Some(tp)).await;
    publish(&app, &env, Some(tp)).await;
    let body = testkit::eventually(10, "an inbox item", || async {
        let v = inbox(&app, &token, "").await;
        Ok((v["items"].as_array().is_some_and(|a| !a.is_empty())).then_some(v))
    })
    .await
    .expect("inbox");
    assert_eq!(body["items"][0]["kind"], "ticket_received");
    assert_eq!(body["items"][0]["locale"], "zh-CN");
    assert_eq!(body["unread_count"], 1);
    let queue = format!("{}.notify", app.platform.bus.queue_prefix());
    testkit::eventually(5, "the redelivery skipped", || async {
        Ok((app
            .platform
            .metrics
            .bus_consumed
            .with_label_values(&[queue.as_str(), "duplicate"])
            .get()
            == 1)
            .then_some(()))
    })
    .await
    .expect("duplicate");
    assert_eq!(inbox_len(&app, &token).await, Some(1));

    let admin = app.token(Uuid::new_v4(), Role::Admin);
    let log = app
        .get_json(&format!("/v1/deliveries?event_id={}", env.id), &admin)
        .await;
    assert_eq!(log["items"][0]["trace_id"], "11112222333344445555666677778888");
    assert_eq!(log["items"][0]["recipient_id"], customer.to_string());
    assert_eq!(app.get_status("/v1/deliveries", &token).await.0, 403);
}

#[tokio::test]
async fn the_inbox_pages_marks_read_and_shows_only_the_callers_messages() {
    let app = app().await;
    let customer = Uuid::new_v4();
    let token = app.token(customer, Role::Customer);
    for _ in 0..3 {
        publish(&app, &queued(customer), None).await;
    }
    publish(&app, &queued(Uuid::new_v4()), None).await;
    testkit::eventually(10, "three items", || async {
        Ok((inbox_len(&app, &token).await == Some(3)).then_some(()))
    })
    .await
    .expect("items");
    let first = inbox(&app, &token, "?limit=2").await;
    assert_eq!(first["items"].as_array().map(Vec::len), Some(2));
    let cursor = first["next_cursor"].as_str().expect("cursor");
    let second = inbox(&app, &token, &format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(second["items"].as_array().map(Vec::len), Some(1));
    assert!(second["next_cursor"].is_null());
    assert_ne!(first["items"][0]["id"], second["items"][0]["id"]);

    let id = first["items"][0]["id"].as_str().expect("id");
    assert_eq!(post_empty(&app, &format!("/v1/inbox/{id}/read"), &token).await, 204);
    assert_eq!(inbox(&app, &token, "").await["unread_count"], 2);
    let stranger = app.token(Uuid::new_v4(), Role::Customer);
    assert_eq!(post_empty(&app, &format!("/v1/inbox/{id}/read"), &stranger).await, 404);
    assert_eq!(app.get_status("/v1/inbox?cursor=nonsense", &token).await.0, 422);
}

#[tokio::test]
async fn a_breached_service_level_reaches_the_supervisors_inbox() {
    use contracts::routing::{SlaBreachedV1, SlaTimerRef};
    let app = app().await;
    let supervisor = Uuid::new_v4();
    let env = EventEnvelope::new(
        "routing",
        SlaBreachedV1 {
            timer: SlaTimerRef {
                ticket_id: TicketId::new(),
                customer_id: CustomerId::new(),
                metric: "first_response".into(),
                policy: "live-chat".into(),
                target_secs: 30,
                due_at: Utc::now(),
                agent_id: None,
                supervisor_id: Some(AgentId::from(supervisor)),
            },
            escalated_to_tier: Some("mid".into()),
            breached_at: Utc::now(),
        },
    );
    for _ in 0..2 {
        app.publish(&env).await;
    }
    let token = app.token(supervisor, Role::Supervisor);
    let items = crate::inbox_items(&app, &token, 10, "the supervisor told").await;
    assert_eq!(items[0]["kind"], "sla_breached");
    assert!(items[0]["body"].as_str().unwrap_or_default().contains("mid"));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(inbox_len(&app, &token).await, Some(1), "once");
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let app = app().await;
    let doc: Value = app
        .client
        .get(format!("{}/openapi.json", app.url))
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("json");
    let paths = doc["paths"].as_object().expect("paths");
    for p in [
        "/v1/inbox",
        "/v1/inbox/read-all",
        "/v1/deliveries/{delivery_id}/resend",
        "/v1/rules/{name}",
        "/v1/templates/{notification}/{channel}/{locale}",
        "/v1/templates/preview",
        "/v1/recipients/{recipient_id}",
        "/v1/webhook-endpoints/{endpoint_id}/rotate-secret",
        "/v1/messages/{send_id}",
    ] {
        assert!(paths.contains_key(p), "{p} is documented");
    }
    assert!(doc["components"]["schemas"]["SendRequest"].is_object());
}
