//! Offers, accepts, declines, timeouts, pulls, relaxation, transfers and releases.

use std::time::Duration;

use contracts::vocabulary::{Channel, Priority};
use platform::auth::Role;
use routing::adapters::live::LiveQueues;
use serde_json::json;
use uuid::Uuid;

use super::*;

#[tokio::test]
async fn a_ticket_is_offered_to_the_best_matching_agent_who_accepts_it() {
    let app = app().await;
    let network = online_agent(&app, "junior", &["technical.network"], &["zh-CN"], json!({"chat": 2})).await;
    let refunds = online_agent(&app, "junior", &["refund"], &["zh-CN"], json!({"chat": 2})).await;
    let english = online_agent(&app, "junior", &["technical.network"], &["en"], json!({"chat": 2})).await;
    let mut env = created(Priority::Normal, Some("technical"));
    env.data.language = Some("zh-CN".into());
    env.data.details.fault_type = Some("network".into());
    app.publish(&env).await;
    let ticket = env.data.ticket_id.as_uuid();
    testkit::eventually(10, "an offer", || async {
        Ok((offers_of(&app, network).await == vec![ticket]).then_some(()))
    })
    .await
    .expect("offered to the network agent");
    assert!(offers_of(&app, refunds).await.is_empty(), "wrong skill");
    assert!(offers_of(&app, english).await.is_empty(), "wrong language");
    let entry = entry_json(&app, ticket).await;
    assert_eq!(entry["status"], "offered");
    assert_eq!(entry["skill"], "technical.network");
    assert!(entry["offer_expires_at"].is_string());

    // Only the agent it is offered to may accept it.
    let (status, problem) = app
        .post_json(
            &format!("/v1/offers/{ticket}/accept"),
            &app.token(refunds, Role::Agent),
            &Value::Null,
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "offer_not_open");
    let customer = app.token(Uuid::new_v4(), Role::Customer);
    assert_eq!(
        app.post_json(&format!("/v1/offers/{ticket}/accept"), &customer, &Value::Null)
            .await
            .0,
        403
    );
    let (status, accepted) = app
        .post_json(
            &format!("/v1/offers/{ticket}/accept"),
            &app.token(network, Role::Agent),
            &Value::Null,
        )
        .await;
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(accepted["status"], "assigned");
    assert_eq!(accepted["agent_id"], network.to_string());
    let (status, _) = app
        .post_json(
            &format!("/v1/offers/{ticket}/accept"),
            &app.token(network, Role::Agent),
            &Value::Null,
        )
        .await;
    assert_eq!(status, 409, "accepted once");

    let held: Value = app
        .get_json(
            &format!("/v1/agents/{network}/tickets"),
            &app.token(network, Role::Agent),
        )
        .await;
    assert_eq!(held["items"][0]["ticket_id"], ticket.to_string());
    let log: Vec<String> = entry_json(&app, ticket).await["log"]
        .as_array()
        .expect("log")
        .iter()
        .map(|l| l["kind"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(log, ["queued", "offered", "assigned"]);
    testkit::eventually(10, "offered and assigned announced", || async {
        let offered = events_about(&app, "routing.ticket.offered", ticket).await;
        let assigned = events_about(&app, "routing.ticket.assigned", ticket).await;
        Ok((offered.len() == 1 && assigned.len() == 1).then_some(assigned))
    })
    .await
    .map(|a| {
        assert_eq!(a[0]["data"]["agent_id"], network.to_string());
        assert_eq!(a[0]["data"]["how"], "offer");
    })
    .expect("events");
    assert_eq!(chat_load(&app, network).await, 1);
}

#[tokio::test]
async fn an_auto_accept_queue_assigns_its_tickets_without_an_offer() {
    let app = app().await;
    let supervisor = app.token(Uuid::new_v4(), Role::Supervisor);
    // Auto-accept needs a push queue: refused, nothing written.
    let (status, problem) = app.put_json("/v1/queues/refund-email", &supervisor, &json!({"categories": ["refund"], "channels": ["email"], "skill": "refund", "push": false, "auto_accept": true}))
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "auto_accept", "{problem}");
    let queues: Value = app.get_json("/v1/queues", &supervisor).await;
    assert!(
        !queues["items"]
            .as_array()
            .expect("queues")
            .iter()
            .any(|q| q["name"] == "refund-email"),
        "{queues}"
    );
    let (status, q) = app
        .put_json(
            "/v1/queues/refund-email",
            &supervisor,
            &json!({"categories": ["refund"], "channels": ["email"], "skill": "refund", "precedence": 50,
               "auto_accept": true}),
        )
        .await;
    assert_eq!(status, 201, "{q}");
    assert_eq!(
        (q["push"].as_bool(), q["auto_accept"].as_bool()),
        (Some(true), Some(true))
    );

    let first = online_agent(&app, "junior", &["refund"], &[], json!({"email": 1})).await;
    let second = online_agent(&app, "junior", &["refund"], &[], json!({"email": 1})).await;
    let no_skill = online_agent(&app, "junior", &[], &[], json!({"email": 5})).await;
    let mut tickets = Vec::new();
    for _ in 0..3 {
        let mut env = created(Priority::Normal, Some("refund"));
        env.data.channel = Channel::Email;
        app.publish(&env).await;
        tickets.push(env.data.ticket_id.as_uuid());
    }
    // Two agents with one free email slot each: two tickets assigned, one each; the third waits.
    let statuses = testkit::eventually(10, "two assigned", || async {
        let mut statuses = Vec::new();
        for t in &tickets {
            statuses.push(entry_json(&app, *t).await);
        }
        let assigned = statuses.iter().filter(|e| e["status"] == "assigned").count();
        Ok((assigned == 2).then_some(statuses))
    })
    .await
    .expect("assigned");
    let mut holders: Vec<String> = statuses
        .iter()
        .filter(|e| e["status"] == "assigned")
        .map(|e| e["agent_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    holders.sort();
    let mut expected = vec![first.to_string(), second.to_string()];
    expected.sort();
    assert_eq!(holders, expected, "one each, never the agent without the skill");
    let waiting: Vec<&Value> = statuses.iter().filter(|e| e["status"] == "waiting").collect();
    assert_eq!(waiting.len(), 1);
    for agent in [first, second, no_skill] {
        assert!(
            offers_of(&app, agent).await.is_empty(),
            "no offers from an auto-accept queue"
        );
    }
    for e in statuses.iter().filter(|e| e["status"] == "assigned") {
        let kinds: Vec<&str> = e["log"]
            .as_array()
            .expect("log")
            .iter()
            .filter_map(|l| l["kind"].as_str())
            .collect();
        assert_eq!(kinds, ["queued", "assigned"], "{e}");
        assert_eq!(e["log"][1]["detail"]["how"], "auto");
        assert_eq!(e["queue"], "refund-email");
    }
    let assigned_ticket: Uuid = statuses
        .iter()
        .find(|e| e["status"] == "assigned")
        .and_then(|e| e["ticket_id"].as_str()?.parse().ok())
        .expect("an assigned ticket");
    testkit::eventually(10, "assigned announced", || async {
        let events = events_about(&app, "routing.ticket.assigned", assigned_ticket).await;
        Ok((events.len() == 1).then_some(events))
    })
    .await
    .map(|a| assert_eq!(a[0]["data"]["how"], "auto"))
    .expect("event");
    assert!(
        events_about(&app, "routing.ticket.offered", assigned_ticket)
            .await
            .is_empty()
    );

    // The holder is freed by the ticket's resolution: the waiting one is assigned to them.
    let holder: Uuid = statuses
        .iter()
        .find(|e| e["ticket_id"] == assigned_ticket.to_string())
        .and_then(|e| e["agent_id"].as_str()?.parse().ok())
        .expect("holder");
    let last: Uuid = waiting[0]["ticket_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("id");
    app.publish(&resolved_by(assigned_ticket, holder)).await;
    testkit::eventually(10, "the waiting ticket assigned to the freed agent", || async {
        let e = entry_json(&app, last).await;
        Ok((e["status"] == "assigned").then_some(e))
    })
    .await
    .map(|e| assert_eq!(e["agent_id"], holder.to_string()))
    .expect("assigned");
}

#[tokio::test]
async fn an_offer_not_accepted_in_time_goes_to_the_next_agent_and_a_declined_one_keeps_its_place() {
    let app = testkit::start(&routing::SPEC, &[("ROUTING__SERVICE__OFFER_TIMEOUT_SECS", "1")]).await;
    let first = online_agent(&app, "junior", &[], &["zh-CN"], json!({"chat": 1})).await;
    let env = created(Priority::Normal, None);
    app.publish(&env).await;
    let ticket = env.data.ticket_id.as_uuid();
    testkit::eventually(10, "offered to the first agent", || async {
        Ok((offers_of(&app, first).await == vec![ticket]).then_some(()))
    })
    .await
    .expect("offer");
    let second = online_agent(&app, "junior", &[], &["zh-CN"], json!({"chat": 1})).await;
    testkit::eventually(10, "lapsed and offered to the second", || async {
        Ok((offers_of(&app, second).await == vec![ticket]).then_some(()))
    })
    .await
    .expect("second offer");
    assert!(offers_of(&app, first).await.is_empty());
    let (status, _) = app
        .post_json(
            &format!("/v1/offers/{ticket}/accept"),
            &app.token(first, Role::Agent),
            &Value::Null,
        )
        .await;
    assert_eq!(status, 409, "a lapsed offer cannot be accepted");

    let (status, declined) = app
        .post_json(
            &format!("/v1/offers/{ticket}/decline"),
            &app.token(second, Role::Agent),
            &Value::Null,
        )
        .await;
    assert_eq!(status, 200, "{declined}");
    assert_eq!(declined["status"], "waiting");
    // Both had their chance: it waits, in its original place, for someone else.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(entry_json(&app, ticket).await["status"], "waiting");
    let live = LiveQueues::new(app.platform.redis.clone());
    assert_eq!(
        live.waiting("general", 10).await.expect("live"),
        vec![ticket.to_string()]
    );
    let kinds: Vec<String> = entry_json(&app, ticket).await["log"]
        .as_array()
        .expect("log")
        .iter()
        .map(|l| l["kind"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(kinds, ["queued", "offered", "offer_expired", "offered", "declined"]);
    let third = online_agent(&app, "junior", &[], &["zh-CN"], json!({"chat": 1})).await;
    testkit::eventually(10, "offered to a third", || async {
        Ok((offers_of(&app, third).await == vec![ticket]).then_some(()))
    })
    .await
    .expect("third offer");
}

#[tokio::test]
async fn an_agent_whose_heartbeat_stops_gets_their_offers_taken_back() {
    let app = testkit::start(&routing::SPEC, &[("ROUTING__SERVICE__PRESENCE_TTL_SECS", "1")]).await;
    let agent = online_agent(&app, "junior", &[], &["zh-CN"], json!({"chat": 2})).await;
    let env = created(Priority::Normal, None);
    app.publish(&env).await;
    let ticket = env.data.ticket_id.as_uuid();
    testkit::eventually(10, "offered", || async {
        Ok(offers_of(&app, agent).await.contains(&ticket).then_some(()))
    })
    .await
    .expect("offer");
    // No heartbeats: away after a second, and the offer returns to the queue.
    testkit::eventually(10, "taken back", || async {
        Ok((entry_json(&app, ticket).await["status"] == "waiting").then_some(()))
    })
    .await
    .expect("back in the queue");
    let log = entry_json(&app, ticket).await["log"].clone();
    assert_eq!(log[2]["kind"], "agent_away", "{log}");
}

#[tokio::test]
async fn pull_gives_the_best_ticket_and_never_more_than_capacity() {
    let app = app().await;
    let supervisor = app.token(Uuid::new_v4(), Role::Supervisor);
    // Email tickets are pulled, not offered.
    let (status, q) = app.put_json("/v1/queues/email", &supervisor, &json!({"description": "Email, taken when ready", "categories": ["other"], "channels": ["email"], "precedence": 50,
               "push": false}))
    .await;
    assert_eq!(status, 201, "{q}");
    let mut tickets = Vec::new();
    for (priority, vip) in [
        (Priority::Normal, false),
        (Priority::Normal, true),
        (Priority::Normal, false),
    ] {
        let mut env = created(priority, Some("other"));
        env.data.channel = Channel::Email;
        if vip {
            env.data.details.customer_segments = vec!["vip".into()];
        }
        app.publish(&env).await;
        tickets.push(env.data.ticket_id.as_uuid());
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let live = LiveQueues::new(app.platform.redis.clone());
    testkit::eventually(10, "three waiting", || async {
        Ok((live.waiting("email", 10).await?.len() == 3).then_some(()))
    })
    .await
    .expect("waiting");
    assert_eq!(
        live.waiting("email", 10).await.expect("live")[0],
        tickets[1].to_string(),
        "the VIP overtakes older tickets"
    );

    let agent = online_agent(&app, "junior", &[], &["zh-CN"], json!({"email": 2})).await;
    let token = app.token(agent, Role::Agent);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(offers_of(&app, agent).await.is_empty(), "pull queues are not offered");
    let (status, first) = app
        .post_json(&format!("/v1/agents/{agent}/next"), &token, &Value::Null)
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["ticket_id"], tickets[1].to_string(), "the VIP first");
    assert_eq!(first["status"], "assigned");
    let (status, second) = app
        .post_json(&format!("/v1/agents/{agent}/next"), &token, &Value::Null)
        .await;
    assert_eq!(status, 200);
    assert_eq!(second["ticket_id"], tickets[0].to_string(), "then the oldest");
    let (status, full) = app
        .post_json(&format!("/v1/agents/{agent}/next"), &token, &Value::Null)
        .await;
    assert_eq!(status, 409, "{full}");
    assert_eq!(full["code"], "at_capacity");
    assert_eq!(
        live.waiting("email", 10).await.expect("live"),
        vec![tickets[2].to_string()]
    );
    let other = app.token(Uuid::new_v4(), Role::Agent);
    assert_eq!(
        app.post_json(&format!("/v1/agents/{agent}/next"), &other, &Value::Null)
            .await
            .0,
        404,
        "another agent's next ticket is not found"
    );
    let assigned = events_about(&app, "routing.ticket.assigned", tickets[1]).await;
    assert_eq!(assigned[0]["data"]["how"], "pull");

    // Resolved in intake: capacity comes back and the last ticket can be taken.
    app.publish(&resolved_by(tickets[1], agent)).await;
    testkit::eventually(10, "released", || async {
        Ok((entry_json(&app, tickets[1]).await["status"] == "closed").then_some(()))
    })
    .await
    .expect("closed");
    let (status, third) = app
        .post_json(&format!("/v1/agents/{agent}/next"), &token, &Value::Null)
        .await;
    assert_eq!(status, 200, "{third}");
    assert_eq!(third["ticket_id"], tickets[2].to_string());
    let (status, _) = app
        .post_json(&format!("/v1/agents/{agent}/next"), &token, &Value::Null)
        .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn requirements_relax_step_by_step_so_nothing_waits_forever() {
    let app = testkit::start(
        &routing::SPEC,
        &[
            ("ROUTING__SERVICE__RELAX_LANGUAGE_AFTER_SECS", "1"),
            ("ROUTING__SERVICE__RELAX_SKILL_AFTER_SECS", "2"),
            ("ROUTING__SERVICE__RELAX_TIER_AFTER_SECS", "3"),
        ],
    )
    .await;
    // A mid agent speaking only Chinese, with the software sub-skill; the ticket wants a
    // junior, English and the network sub-skill.
    let agent = online_agent(&app, "mid", &["technical.software"], &["zh-CN"], json!({"chat": 3})).await;
    let mut env = created(Priority::Normal, Some("technical"));
    env.data.language = Some("en".into());
    env.data.details.fault_type = Some("network".into());
    app.publish(&env).await;
    let ticket = env.data.ticket_id.as_uuid();
    testkit::eventually(15, "offered after relaxing", || async {
        Ok(offers_of(&app, agent).await.contains(&ticket).then_some(()))
    })
    .await
    .expect("offer");
    let log = entry_json(&app, ticket).await["log"].clone();
    let waited = log[1]["detail"]["waited_secs"].as_i64().unwrap_or(0);
    assert!(waited >= 3, "only once the tier relaxed: {log}");
}

#[tokio::test]
async fn tickets_move_between_agents_and_queues_and_escalate() {
    let app = app().await;
    let supervisor = app.token(Uuid::new_v4(), Role::Supervisor);
    let a = online_agent(&app, "junior", &[], &["zh-CN"], json!({"chat": 2})).await;
    let env = created(Priority::Normal, None);
    app.publish(&env).await;
    let ticket = env.data.ticket_id.as_uuid();
    testkit::eventually(10, "offered", || async {
        Ok(offers_of(&app, a).await.contains(&ticket).then_some(()))
    })
    .await
    .expect("offer");
    assert_eq!(
        app.post_json(
            &format!("/v1/offers/{ticket}/accept"),
            &app.token(a, Role::Agent),
            &Value::Null
        )
        .await
        .0,
        200
    );
    let b = online_agent(&app, "junior", &[], &["zh-CN"], json!({"chat": 1})).await;

    let stranger = app.token(Uuid::new_v4(), Role::Agent);
    let path = format!("/v1/tickets/{ticket}/transfer");
    assert_eq!(app.post_json(&path, &stranger, &json!({"agent_id": b})).await.0, 403);
    let (status, problem) = app
        .post_json(
            &path,
            &app.token(a, Role::Agent),
            &json!({"agent_id": b, "queue": "refund"}),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    let (status, moved) = app
        .post_json(
            &path,
            &app.token(a, Role::Agent),
            &json!({"agent_id": b, "reason": "needs a specialist"}),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["agent_id"], b.to_string());
    assert_eq!((chat_load(&app, a).await, chat_load(&app, b).await), (0, 1));
    // B is full: a supervisor cannot push another ticket onto them.
    let env2 = created(Priority::Normal, None);
    app.publish(&env2).await;
    testkit::eventually(10, "second offered to A", || async {
        Ok(offers_of(&app, a)
            .await
            .contains(&env2.data.ticket_id.as_uuid())
            .then_some(()))
    })
    .await
    .expect("offer");
    let (status, full) = app
        .post_json(
            &format!("/v1/tickets/{}/transfer", env2.data.ticket_id.as_uuid()),
            &supervisor,
            &json!({"agent_id": b}),
        )
        .await;
    assert_eq!(status, 409, "{full}");
    assert_eq!(full["code"], "at_capacity");

    // Back to a queue: it waits in the refund queue for a mid agent.
    let (status, queued) = app
        .post_json(
            &path,
            &supervisor,
            &json!({"queue": "refund", "reason": "refund question"}),
        )
        .await;
    assert_eq!(status, 200, "{queued}");
    assert_eq!(queued["status"], "waiting");
    assert_eq!(queued["queue"], "refund");
    assert_eq!(queued["tier"], "mid");
    assert_eq!(chat_load(&app, b).await, 0);
    let live = LiveQueues::new(app.platform.redis.clone());
    assert_eq!(
        live.waiting("refund", 10).await.expect("live"),
        vec![ticket.to_string()]
    );
    assert_eq!(events_about(&app, "routing.ticket.transferred", ticket).await.len(), 2);

    // Escalated: up a tier, priority raised.
    let (status, up) = app
        .post_json(
            &format!("/v1/tickets/{ticket}/escalate"),
            &supervisor,
            &json!({"reason": "parent very upset"}),
        )
        .await;
    assert_eq!(status, 200, "{up}");
    assert_eq!(up["tier"], "senior");
    assert_eq!(up["priority"], "high");
    assert_eq!(up["escalations"], 1);
    let escalated = events_about(&app, "routing.ticket.escalated", ticket).await;
    assert_eq!(escalated[0]["data"]["to_tier"], "senior");
}

#[tokio::test]
async fn tickets_nobody_online_can_take_do_not_hold_up_those_behind_them() {
    let app = testkit::start(&routing::SPEC, &[("ROUTING__SERVICE__HEADS_PER_QUEUE", "4")]).await;
    let junior = online_agent(&app, "junior", &[], &["zh-CN"], json!({"web": 2})).await;
    // Ten tickets for seniors at the head of general (more than two windows of four), then one
    // a junior can take.
    sqlx::query(
        "INSERT INTO queue_entry (ticket_id, customer_id, queue, channel, priority, status, score, enqueued_at, tier) \
         SELECT gen_random_uuid(), gen_random_uuid(), 'general', 'web', 'normal', 'waiting', g, now(), 'senior' \
         FROM generate_series(1, 10) g",
    )
    .execute(&app.platform.pool)
    .await
    .expect("blocking");
    let behind = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO queue_entry (ticket_id, customer_id, queue, channel, priority, status, score, enqueued_at, tier) \
         VALUES ($1, gen_random_uuid(), 'general', 'web', 'normal', 'waiting', 1000, now(), 'junior')",
    )
    .bind(behind)
    .execute(&app.platform.pool)
    .await
    .expect("behind");
    rebuild(&app).await;
    testkit::eventually(10, "the ticket behind is offered", || async {
        Ok((offers_of(&app, junior).await == vec![behind]).then_some(()))
    })
    .await
    .expect("offered past the blocked head");
    let waiting: i64 =
        sqlx::query_scalar("SELECT count(*) FROM queue_entry WHERE status = 'waiting' AND tier = 'senior'")
            .fetch_one(&app.platform.pool)
            .await
            .expect("count");
    assert_eq!(waiting, 10, "the seniors' tickets wait for a senior");
}
