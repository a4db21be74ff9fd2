//! Routing against real PostgreSQL, Redis and RabbitMQ.

use chrono::Utc;
use contracts::EventEnvelope;
use contracts::intake::{TicketCreatedV1, TicketStatusChangedV1};
use contracts::vocabulary::{Channel, Priority};
use platform::auth::Role;
use platform::bus::Outgoing;
use testkit::{TestApp, spawn};
use routing::live::LiveQueues;
use serde_json::{Value, json};
use uuid::Uuid;

mod agents;
mod assignment;
mod live;
mod replicas;
mod sla;

async fn app() -> TestApp {
    app_with(&[]).await
}

/// The service with some `ROUTING__...` settings overridden.
async fn app_with(settings: &[(&str, &str)]) -> TestApp {
    spawn(&routing::SPEC, &env_with(settings).await).await.expect("spawn")
}

/// A fresh environment (database, Redis prefix, exchange) with some settings overridden; spawn
/// it twice for two replicas.
async fn env_with(settings: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
    let mut vars = testkit::Isolation::new()
        .service_env("ROUTING", "routing")
        .await
        .expect("env");
    for (k, v) in settings {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    vars
}

fn created(priority: Priority, category: Option<&str>) -> EventEnvelope<TicketCreatedV1> {
    EventEnvelope::new(
        "intake",
        TicketCreatedV1 {
            ticket_id: Uuid::now_v7(),
            customer_id: Uuid::new_v4(),
            channel: Channel::Chat,
            subject: "课程咨询".into(),
            priority,
            category: category.map(str::to_owned),
            language: None,
            details: Default::default(),
            created_at: Utc::now(),
        },
    )
}

async fn publish<T: contracts::Event + serde::Serialize>(app: &TestApp, env: &EventEnvelope<T>) {
    let body = serde_json::to_vec(env).expect("json");
    app.platform
        .bus
        .publish_confirmed(&[Outgoing {
            exchange: app.platform.bus.exchange(),
            routing_key: T::TYPE,
            body: &body,
            message_id: None,
            headers: Default::default(),
        }])
        .await
        .expect("publish");
}

async fn entries(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM queue_entry")
        .fetch_one(&app.platform.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn a_created_ticket_is_queued_recorded_and_announced_once() {
    let app = app().await;
    let env = created(Priority::Normal, None);
    publish(&app, &env).await;
    publish(&app, &env).await; // redelivered: one effect
    testkit::eventually(10, "queued", || async {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM outbox_event WHERE event_type = 'routing.ticket.queued' AND published_at IS NOT NULL",
        )
        .fetch_one(&app.platform.pool)
        .await?;
        Ok((n == 1).then_some(()))
    })
    .await
    .expect("queued event");
    let queue = format!("{}.ticket-created", app.platform.bus.queue_prefix());
    testkit::eventually(5, "the redelivery skipped", || async {
        let skipped = app
            .platform
            .metrics
            .bus_consumed
            .with_label_values(&[queue.as_str(), "duplicate"])
            .get();
        Ok((skipped == 1).then_some(()))
    })
    .await
    .expect("processed");
    assert_eq!(entries(&app).await, 1);

    let live = LiveQueues::new(app.platform.redis.clone());
    assert_eq!(
        live.waiting("general", 10).await.expect("live"),
        vec![env.data.ticket_id.to_string()]
    );

    let agent = app.token(Uuid::new_v4(), Role::Agent);
    let queues: Value = app.get_json("/v1/queues", &agent).await;
    let general = queues["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|q| q["name"] == "general")
        .expect("the general queue");
    assert_eq!(general["waiting"], 1);
    assert_eq!(general["tier"], "junior");
    let entry: Value = app
        .get_json(&format!("/v1/queue-entries/{}", env.data.ticket_id), &agent)
        .await;
    assert_eq!(entry["status"], "waiting");
    assert_eq!(entry["customer_id"], env.data.customer_id.to_string());

    let customer = app.token(Uuid::new_v4(), Role::Customer);
    assert_eq!(
        app.get("/v1/queues", &customer).send().await.expect("send").status(),
        403
    );
    app.stop().await.expect("stop");
}

#[tokio::test]
async fn an_urgent_ticket_overtakes_older_normal_ones_and_categories_pick_their_queue() {
    let app = app().await;
    let older = created(Priority::Normal, None);
    let urgent = created(Priority::Urgent, None);
    let technical = created(Priority::Normal, Some("technical"));
    for env in [&older, &urgent, &technical] {
        publish(&app, env).await;
    }
    testkit::eventually(10, "three entries", || async {
        Ok((entries(&app).await == 3).then_some(()))
    })
    .await
    .expect("entries");
    let live = LiveQueues::new(app.platform.redis.clone());
    assert_eq!(
        live.waiting("general", 10).await.expect("live"),
        vec![urgent.data.ticket_id.to_string(), older.data.ticket_id.to_string()]
    );
    assert_eq!(
        live.waiting("technical", 10).await.expect("live"),
        vec![technical.data.ticket_id.to_string()]
    );
}

fn changed(ticket: &EventEnvelope<TicketCreatedV1>, from: &str, to: &str) -> EventEnvelope<TicketStatusChangedV1> {
    EventEnvelope::new(
        "intake",
        TicketStatusChangedV1 {
            ticket_id: ticket.data.ticket_id,
            customer_id: ticket.data.customer_id,
            from: from.into(),
            to: to.into(),
            action: "test".into(),
            actor_id: Uuid::nil(),
            assignee_id: None,
            changed_at: Utc::now(),
        },
    )
}

/// Intake's event: `ticket` resolved by `agent`, who held it.
fn resolved_by(ticket: Uuid, agent: Uuid) -> EventEnvelope<TicketStatusChangedV1> {
    EventEnvelope::new(
        "intake",
        TicketStatusChangedV1 {
            ticket_id: ticket,
            customer_id: Uuid::new_v4(),
            from: "in_progress".into(),
            to: "resolved".into(),
            action: "resolve".into(),
            actor_id: agent,
            assignee_id: Some(agent),
            changed_at: Utc::now(),
        },
    )
}

async fn entry_status(app: &TestApp, id: Uuid) -> Option<String> {
    sqlx::query_scalar("SELECT status FROM queue_entry WHERE ticket_id = $1")
        .bind(id)
        .fetch_optional(&app.platform.pool)
        .await
        .expect("status")
}

#[tokio::test]
async fn auto_answered_tickets_are_held_until_handed_to_people_and_angry_ones_go_to_seniors() {
    let app = app().await;
    let live = LiveQueues::new(app.platform.redis.clone());
    let mut answered = created(Priority::Normal, Some("other"));
    answered.data.details.status = Some("auto_answered".into());
    let mut angry = created(Priority::High, Some("complaint"));
    angry.data.details.high_emotion = true;
    publish(&app, &answered).await;
    publish(&app, &angry).await;
    testkit::eventually(10, "both recorded", || async {
        Ok((entries(&app).await == 2).then_some(()))
    })
    .await
    .expect("entries");
    assert_eq!(
        entry_status(&app, answered.data.ticket_id).await.as_deref(),
        Some("held")
    );
    testkit::eventually(10, "the angry one waits for seniors", || async {
        let w = live.waiting("senior", 10).await?;
        Ok((w == vec![angry.data.ticket_id.to_string()]).then_some(()))
    })
    .await
    .expect("senior");
    assert!(
        live.waiting("general", 10).await.expect("live").is_empty(),
        "held tickets do not wait"
    );

    // "Not solved": the held ticket now waits for a person, announced once.
    let requeued = changed(&answered, "auto_answered", "queued");
    publish(&app, &requeued).await;
    publish(&app, &requeued).await;
    testkit::eventually(10, "waiting", || async {
        let w = live.waiting("general", 10).await?;
        Ok((w == vec![answered.data.ticket_id.to_string()]).then_some(()))
    })
    .await
    .expect("waiting");
    testkit::eventually(10, "announced", || async {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM outbox_event WHERE event_type = 'routing.ticket.queued' AND envelope->>'subject' = $1",
        )
        .bind(answered.data.ticket_id.to_string())
        .fetch_one(&app.platform.pool)
        .await?;
        Ok((n == 1).then_some(()))
    })
    .await
    .expect("one queued event");

    // Assigned: out of the live queue.
    publish(&app, &changed(&answered, "queued", "assigned")).await;
    testkit::eventually(10, "removed", || async {
        Ok(live.waiting("general", 10).await?.is_empty().then_some(()))
    })
    .await
    .expect("removed");
    // The live queue changes inside the transaction, just before it commits.
    testkit::eventually(10, "recorded as assigned", || async {
        Ok((entry_status(&app, answered.data.ticket_id).await.as_deref() == Some("assigned")).then_some(()))
    })
    .await
    .expect("assigned");
}

/// PUTs or POSTs JSON; the status and the JSON body (null when none).
async fn send_json(req: reqwest::RequestBuilder, body: Option<Value>) -> (u16, Value) {
    let req = match body {
        Some(b) => req.json(&b),
        None => req,
    };
    // A kept-alive connection the server just closed is retried once.
    let retry = req.try_clone();
    let res = match req.send().await {
        Ok(res) => res,
        Err(e) => match retry {
            Some(r) if e.is_request() => r.send().await.expect("request"),
            _ => panic!("request: {e}"),
        },
    };
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn put_json(app: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    send_json(
        app.client.put(format!("{}{path}", app.url)).bearer_auth(token),
        Some(body),
    )
    .await
}

async fn post_json(app: &TestApp, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    send_json(app.post(path, token), body).await
}

/// Forces a rebuild of the live state from Postgres as an admin; its answer.
async fn rebuild(app: &TestApp) -> Value {
    let admin = app.token(Uuid::new_v4(), Role::Admin);
    let (status, rebuilt) = post_json(app, "/v1/admin/rebuild", &admin, None).await;
    assert_eq!(status, 200, "{rebuilt}");
    rebuilt
}

/// Defines an agent and sets them online; their id.
async fn online_agent(app: &TestApp, tier: &str, skills: &[&str], languages: &[&str], capacity: Value) -> Uuid {
    let id = Uuid::new_v4();
    let supervisor = app.token(Uuid::new_v4(), Role::Supervisor);
    let (status, body) = put_json(
        app,
        &format!("/v1/agents/{id}"),
        &supervisor,
        json!({"display_name": format!("{tier} agent"), "tier": tier, "skills": skills, "languages": languages,
               "capacity": capacity}),
    )
    .await;
    assert!(status == 201, "agent: {status} {body}");
    let (status, _) = put_json(
        app,
        &format!("/v1/agents/{id}/presence"),
        &app.token(id, Role::Agent),
        json!({"status": "online"}),
    )
    .await;
    assert_eq!(status, 200);
    id
}

/// The tickets offered to `agent` now.
async fn offers_of(app: &TestApp, agent: Uuid) -> Vec<Uuid> {
    let v = app
        .get_json(&format!("/v1/agents/{agent}/offers"), &app.token(agent, Role::Agent))
        .await;
    v["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["ticket_id"].as_str()?.parse().ok()).collect())
        .unwrap_or_default()
}

async fn entry_json(app: &TestApp, ticket: Uuid) -> Value {
    app.get_json(
        &format!("/v1/queue-entries/{ticket}"),
        &app.token(Uuid::new_v4(), Role::Supervisor),
    )
    .await
}

/// Events of `event_type` about `ticket` in the outbox.
async fn events_about(app: &TestApp, event_type: &str, ticket: Uuid) -> Vec<Value> {
    sqlx::query_scalar(
        "SELECT envelope FROM outbox_event WHERE event_type = $1 AND envelope->>'subject' = $2 ORDER BY created_at",
    )
    .bind(event_type)
    .bind(ticket.to_string())
    .fetch_all(&app.platform.pool)
    .await
    .expect("events")
}

/// An agent's load on chat in Redis (tickets offered to or held by them).
async fn chat_load(app: &TestApp, agent: Uuid) -> u32 {
    let v: Option<u32> = redis::AsyncCommands::hget(
        &mut app.platform.redis.conn.clone(),
        app.platform.redis.keys.key(&["load", &agent.to_string()]),
        "chat",
    )
    .await
    .expect("load");
    v.unwrap_or(0)
}
