//! Two routing replicas on one Redis and one database: no ticket is given twice, no agent goes
//! over capacity, and each clock fires once, also across a restart.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use contracts::vocabulary::Priority;
use platform::auth::Role;
use platform::bus::Outgoing;
use serde_json::json;
use testkit::{env_for, spawn};
use tokio::sync::Mutex;
use uuid::Uuid;

use super::*;

async fn publish_all<T: contracts::Event + serde::Serialize>(app: &TestApp, envs: &[EventEnvelope<T>]) {
    for chunk in envs.chunks(200) {
        let bodies: Vec<Vec<u8>> = chunk.iter().map(|e| serde_json::to_vec(e).expect("json")).collect();
        let out: Vec<Outgoing<'_>> = bodies
            .iter()
            .map(|b| Outgoing {
                exchange: app.platform.bus.exchange(),
                routing_key: T::TYPE,
                body: b,
                message_id: None,
                headers: Default::default(),
            })
            .collect();
        app.platform.bus.publish_confirmed(&out).await.expect("publish");
    }
}

/// Status and JSON body, or `None` when the request did not complete.
async fn try_send(req: reqwest::RequestBuilder) -> Option<(u16, Value)> {
    let res = req.send().await.ok()?;
    let status = res.status().as_u16();
    Some((status, res.json().await.unwrap_or(Value::Null)))
}

const TICKETS: usize = 2000;
const AGENTS: usize = 12;
const CAPACITY: u32 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_never_give_a_ticket_twice_nor_overrun_capacity() {
    let vars = env_for(
        &routing::SPEC,
        &[
            ("ROUTING__SERVICE__PRESENCE_TTL_SECS", "600"),
            ("ROUTING__DATABASE__MAX_CONNECTIONS", "10"),
        ],
    )
    .await;
    let a = Arc::new(spawn(&routing::SPEC, &vars).await.expect("replica a"));
    let b = Arc::new(spawn(&routing::SPEC, &vars).await.expect("replica b"));
    let mut agents = Vec::new();
    for i in 0..AGENTS {
        let app = if i % 2 == 0 { &a } else { &b };
        agents.push(online_agent(app, "junior", &[], &["zh-CN"], json!({"chat": CAPACITY})).await);
    }
    // A third of the tickets go to an auto-accept queue: given to agents without an offer.
    let supervisor = testkit::token(Uuid::new_v4(), Role::Supervisor);
    for app in [&a, &b] {
        let (status, body) = app
            .put_json(
                "/v1/queues/auto-chat",
                &supervisor,
                &json!({"categories": ["technical"], "channels": ["chat"], "precedence": 100, "auto_accept": true}),
            )
            .await;
        assert!(status == 200 || status == 201, "{status} {body}");
    }
    let envs: Vec<_> = (0..TICKETS)
        .map(|i| created(Priority::Normal, (i % 3 == 0).then_some("technical")))
        .collect();
    let owners: HashMap<Uuid, Uuid> = envs
        .iter()
        .map(|e| (e.data.ticket_id.as_uuid(), e.data.customer_id.as_uuid()))
        .collect();
    let owners = Arc::new(owners);
    let taken: Arc<Mutex<Vec<(Uuid, Uuid)>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let max_load = Arc::new(AtomicU32::new(0));

    // Watches every agent's load in Redis while the work runs.
    let sampler = {
        let (a, done, max_load, agents) = (a.clone(), done.clone(), max_load.clone(), agents.clone());
        tokio::spawn(async move {
            let mut conn = a.platform.redis.conn.clone();
            while !done.load(Ordering::Relaxed) {
                let mut pipe = redis::pipe();
                for id in &agents {
                    pipe.hget(a.platform.redis.keys.key(&["load", &id.to_string()]), "chat");
                }
                let loads: Vec<Option<u32>> = pipe.query_async(&mut conn).await.unwrap_or_default();
                for l in loads.into_iter().flatten() {
                    max_load.fetch_max(l, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    // Each agent, alternating replicas: accepts what is offered, asks for more, takes up what
    // was given to them, and resolves what they got (through intake's event), freeing their
    // capacity.
    let mut workers = Vec::new();
    for (i, agent) in agents.iter().copied().enumerate() {
        let (a, b, taken, done, owners) = (a.clone(), b.clone(), taken.clone(), done.clone(), owners.clone());
        workers.push(tokio::spawn(async move {
            let token = testkit::token(agent, Role::Agent);
            let mut turn = i;
            // Tickets this agent has had (a resolved one stays listed as held until routing
            // reads the event).
            let mut had: HashSet<Uuid> = HashSet::new();
            while !done.load(Ordering::Relaxed) {
                turn += 1;
                let (here, there) = if turn % 2 == 0 { (&a, &b) } else { (&b, &a) };
                let mut mine = Vec::new();
                if let Some((200, v)) = try_send(here.get(&format!("/v1/agents/{agent}/tickets"), &token)).await {
                    let held: Vec<Uuid> = v["items"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|e| e["ticket_id"].as_str()?.parse().ok()).collect())
                        .unwrap_or_default();
                    mine.extend(held.into_iter().filter(|t| !had.contains(t)));
                }
                // Under load a request may fail; the loop simply tries again.
                let offered: Vec<Uuid> = match try_send(here.get(&format!("/v1/agents/{agent}/offers"), &token)).await {
                    Some((200, v)) => v["items"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|e| e["ticket_id"].as_str()?.parse().ok()).collect())
                        .unwrap_or_default(),
                    _ => Vec::new(),
                };
                for ticket in offered {
                    if let Some((200, _)) = try_send(there.post(&format!("/v1/offers/{ticket}/accept"), &token)).await {
                        mine.push(ticket);
                    }
                }
                if let Some((200, body)) = try_send(there.post(&format!("/v1/agents/{agent}/next"), &token)).await {
                    mine.push(
                        body["ticket_id"]
                            .as_str()
                            .and_then(|s| s.parse().ok())
                            .expect("ticket id"),
                    );
                }
                if mine.is_empty() {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                had.extend(mine.iter().copied());
                let resolved: Vec<_> = mine
                    .iter()
                    .map(|t| {
                        EventEnvelope::new(
                            "intake",
                            TicketStatusChangedV1 {
                                ticket_id: (*t).into(),
                                customer_id: owners[t].into(),
                                from: TicketStatus::Assigned,
                                to: TicketStatus::Resolved,
                                action: "resolve".into(),
                                actor_id: agent,
                                assignee_id: Some(agent.into()),
                                changed_at: Utc::now(),
                            },
                        )
                    })
                    .collect();
                taken.lock().await.extend(mine.iter().map(|t| (*t, agent)));
                publish_all(here, &resolved).await;
            }
        }));
    }
    let started = std::time::Instant::now();
    publish_all(&a, &envs).await;
    let progress = {
        let (taken, done) = (taken.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_secs(5)).await;
                eprintln!(
                    "{:>4.0}s: {} assigned",
                    started.elapsed().as_secs_f64(),
                    taken.lock().await.len()
                );
            }
        })
    };
    let outcome = testkit::eventually(240, "every ticket assigned", || async {
        Ok((taken.lock().await.len() >= TICKETS).then_some(()))
    })
    .await;
    done.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.expect("worker");
    }
    sampler.await.expect("sampler");
    progress.abort();
    let taken = taken.lock().await.clone();
    outcome.unwrap_or_else(|e| panic!("{e}: {} of {TICKETS} taken", taken.len()));

    let distinct: HashSet<Uuid> = taken.iter().map(|(t, _)| *t).collect();
    assert_eq!(distinct.len(), taken.len(), "a ticket was given to two agents");
    assert_eq!(distinct.len(), TICKETS);
    assert!(
        max_load.load(Ordering::Relaxed) <= CAPACITY,
        "an agent went over capacity: {}",
        max_load.load(Ordering::Relaxed)
    );
    let (max_assigned, assignments): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(max(n), 0), COALESCE(sum(n), 0)::bigint FROM \
         (SELECT ticket_id, count(*) AS n FROM routing_log WHERE kind = 'assigned' GROUP BY ticket_id) x",
    )
    .fetch_one(&a.platform.pool)
    .await
    .expect("log");
    assert_eq!(max_assigned, 1, "assigned twice in the log");
    assert_eq!(assignments, TICKETS as i64);
    let by_agent: Vec<(Uuid, i64)> = sqlx::query_as("SELECT agent_id, count(*) FROM assignment GROUP BY agent_id")
        .fetch_all(&a.platform.pool)
        .await
        .expect("assignments");
    assert_eq!(by_agent.len(), AGENTS, "every agent got work: {by_agent:?}");
    // The auto-accept queue's tickets are given (or pulled), never offered; only they are given.
    let (auto, auto_elsewhere, offered_auto): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM assignment WHERE how = 'auto'), \
                (SELECT count(*) FROM assignment a JOIN queue_entry q USING (ticket_id) \
                  WHERE a.how = 'auto' AND q.queue <> 'auto-chat'), \
                (SELECT count(*) FROM routing_log WHERE kind = 'offered' AND queue = 'auto-chat')",
    )
    .fetch_one(&a.platform.pool)
    .await
    .expect("how");
    assert_eq!((auto_elsewhere, offered_auto), (0, 0));
    assert!(
        auto as usize > TICKETS / 6,
        "most of the auto-accept queue's tickets given: {auto}"
    );
    eprintln!(
        "two replicas: {TICKETS} tickets to {AGENTS} agents in {:.1}s, max load seen {} of {CAPACITY}, per agent {:?}",
        started.elapsed().as_secs_f64(),
        max_load.load(Ordering::Relaxed),
        by_agent.iter().map(|x| x.1).collect::<Vec<_>>()
    );
    for app in [a, b] {
        if let Ok(app) = Arc::try_unwrap(app) {
            app.stop().await.expect("stop");
        }
    }
}

#[tokio::test]
async fn clocks_fire_once_across_replicas_and_after_a_restart() {
    // A short lease: jobs a stopping replica had claimed are taken over quickly.
    let vars = env_for(&routing::SPEC, &[("ROUTING__JOBS__LEASE_SECS", "3")]).await;
    let a = spawn(&routing::SPEC, &vars).await.expect("replica a");
    let b = spawn(&routing::SPEC, &vars).await.expect("replica b");
    let supervisor = a.token(Uuid::new_v4(), Role::Supervisor);
    let (status, _) = a
        .put_json(
            "/v1/sla-policies/fast-resources",
            &supervisor,
            &json!({"name": "fast-resources", "categories": ["resource_request"], "first_response_secs": 4,
               "precedence": 100}),
        )
        .await;
    assert_eq!(status, 201);
    let envs: Vec<_> = (0..20)
        .map(|_| created(Priority::Normal, Some("resource_request")))
        .collect();
    publish_all(&a, &envs).await;
    let pool = b.platform.pool.clone();
    testkit::eventually(10, "clocks applied", || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sla_timer WHERE metric = 'first_response'")
            .fetch_one(&pool)
            .await?;
        Ok((n == 20).then_some(()))
    })
    .await
    .expect("applied");
    // One replica stops before the clocks run out; another starts later.
    a.stop().await.expect("stop a");
    testkit::eventually(40, "all breached", || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sla_timer WHERE status = 'breached'")
            .fetch_one(&pool)
            .await?;
        Ok((n == 20).then_some(()))
    })
    .await
    .expect("breached");
    let c = spawn(&routing::SPEC, &vars).await.expect("replica c");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let per_ticket: Vec<i64> =
        sqlx::query_scalar("SELECT count(*) FROM sla_log WHERE kind = 'breached' GROUP BY ticket_id")
            .fetch_all(&pool)
            .await
            .expect("log");
    assert_eq!(per_ticket.len(), 20);
    assert!(per_ticket.iter().all(|n| *n == 1), "{per_ticket:?}");
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox_event WHERE event_type = 'routing.sla.breached'")
        .fetch_one(&pool)
        .await
        .expect("events");
    assert_eq!(events, 20);
    c.stop().await.expect("stop c");
    b.stop().await.expect("stop b");
}
