//! Routing against real PostgreSQL, Redis and RabbitMQ.
#![allow(clippy::disallowed_methods)]

use chrono::Utc;
use contracts::EventEnvelope;
use contracts::intake::{TicketCreatedV1, TicketStatusChangedV1};
use contracts::vocabulary::{Channel, Priority, TicketStatus};
use platform::auth::Role;
use routing::adapters::live::LiveQueues;
use serde_json::{Value, json};
use testkit::TestApp;
use uuid::Uuid;

mod agents;
mod assignment;
mod clock;
mod live;
mod matrix;
mod order;
mod replicas;
mod sla;

async fn app() -> TestApp {
    testkit::start(&routing::SPEC, &[]).await
}

fn created(priority: Priority, category: Option<&str>) -> EventEnvelope<TicketCreatedV1> {
    EventEnvelope::new(
        "intake",
        TicketCreatedV1 {
            ticket_id: Uuid::now_v7().into(),
            customer_id: Uuid::new_v4().into(),
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

#[tokio::test]
async fn a_created_ticket_is_queued_recorded_and_announced_once() {
    let app = app().await;
    let env = created(Priority::Normal, None);
    app.publish(&env).await;
    app.publish(&env).await; // redelivered: one effect
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
    assert_eq!(app.count("SELECT count(*) FROM queue_entry").await, 1);

    let live = LiveQueues::new(app.platform.redis.clone());
    assert_eq!(
        live.waiting("general", 10).await.expect("live"),
        vec![env.data.ticket_id.as_uuid().to_string()]
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
        .get_json(&format!("/v1/queue-entries/{}", env.data.ticket_id.as_uuid()), &agent)
        .await;
    assert_eq!(entry["status"], "waiting");
    assert_eq!(entry["customer_id"], env.data.customer_id.as_uuid().to_string());

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
        app.publish(env).await;
    }
    testkit::eventually(10, "three entries", || async {
        Ok((app.count("SELECT count(*) FROM queue_entry").await == 3).then_some(()))
    })
    .await
    .expect("entries");
    let live = LiveQueues::new(app.platform.redis.clone());
    assert_eq!(
        live.waiting("general", 10).await.expect("live"),
        vec![
            urgent.data.ticket_id.as_uuid().to_string(),
            older.data.ticket_id.as_uuid().to_string()
        ]
    );
    assert_eq!(
        live.waiting("technical", 10).await.expect("live"),
        vec![technical.data.ticket_id.as_uuid().to_string()]
    );
}

fn changed(ticket: &EventEnvelope<TicketCreatedV1>, from: &str, to: &str) -> EventEnvelope<TicketStatusChangedV1> {
    EventEnvelope::new(
        "intake",
        TicketStatusChangedV1 {
            ticket_id: ticket.data.ticket_id,
            customer_id: ticket.data.customer_id,
            from: TicketStatus::parse(from).expect("a ticket status"),
            to: TicketStatus::parse(to).expect("a ticket status"),
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
            ticket_id: ticket.into(),
            customer_id: Uuid::new_v4().into(),
            from: TicketStatus::InProgress,
            to: TicketStatus::Resolved,
            action: "resolve".into(),
            actor_id: agent,
            assignee_id: Some(agent.into()),
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
    answered.data.details.status = Some(TicketStatus::AutoAnswered);
    let mut angry = created(Priority::High, Some("complaint"));
    angry.data.details.high_emotion = true;
    app.publish(&answered).await;
    app.publish(&angry).await;
    testkit::eventually(10, "both recorded", || async {
        Ok((app.count("SELECT count(*) FROM queue_entry").await == 2).then_some(()))
    })
    .await
    .expect("entries");
    assert_eq!(
        entry_status(&app, answered.data.ticket_id.as_uuid()).await.as_deref(),
        Some("held")
    );
    testkit::eventually(10, "the angry one waits for seniors", || async {
        let w = live.waiting("senior", 10).await?;
        Ok((w == vec![angry.data.ticket_id.as_uuid().to_string()]).then_some(()))
    })
    .await
    .expect("senior");
    assert!(
        live.waiting("general", 10).await.expect("live").is_empty(),
        "held tickets do not wait"
    );

    // "Not solved": the held ticket now waits for a person, announced once.
    let requeued = changed(&answered, "auto_answered", "queued");
    app.publish(&requeued).await;
    app.publish(&requeued).await;
    testkit::eventually(10, "waiting", || async {
        let w = live.waiting("general", 10).await?;
        Ok((w == vec![answered.data.ticket_id.as_uuid().to_string()]).then_some(()))
    })
    .await
    .expect("waiting");
    testkit::eventually(10, "announced", || async {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM outbox_event WHERE event_type = 'routing.ticket.queued' AND envelope->>'subject' = $1",
        )
        .bind(answered.data.ticket_id.as_uuid().to_string())
        .fetch_one(&app.platform.pool)
        .await?;
        Ok((n == 1).then_some(()))
    })
    .await
    .expect("one queued event");

    // Assigned: out of the live queue.
    app.publish(&changed(&answered, "queued", "assigned")).await;
    testkit::eventually(10, "removed", || async {
        Ok(live.waiting("general", 10).await?.is_empty().then_some(()))
    })
    .await
    .expect("removed");
    // The live queue changes inside the transaction, just before it commits.
    testkit::eventually(10, "recorded as assigned", || async {
        Ok((entry_status(&app, answered.data.ticket_id.as_uuid()).await.as_deref() == Some("assigned")).then_some(()))
    })
    .await
    .expect("assigned");
}

/// Forces a rebuild of the live state from Postgres as an admin; its answer.
async fn rebuild(app: &TestApp) -> Value {
    let admin = app.token(Uuid::new_v4(), Role::Admin);
    let (status, rebuilt) = app.post_json("/v1/admin/rebuild", &admin, &Value::Null).await;
    assert_eq!(status, 200, "{rebuilt}");
    rebuilt
}

/// Defines an agent and sets them online; their id.
async fn online_agent(app: &TestApp, tier: &str, skills: &[&str], languages: &[&str], capacity: Value) -> Uuid {
    let id = Uuid::new_v4();
    let supervisor = app.token(Uuid::new_v4(), Role::Supervisor);
    let (status, body) = app
        .put_json(
            &format!("/v1/agents/{id}"),
            &supervisor,
            &json!({"display_name": format!("{tier} agent"), "tier": tier, "skills": skills, "languages": languages,
               "capacity": capacity}),
        )
        .await;
    assert!(status == 201, "agent: {status} {body}");
    let (status, _) = app
        .put_json(
            &format!("/v1/agents/{id}/presence"),
            &app.token(id, Role::Agent),
            &json!({"status": "online"}),
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
