//! The live state rebuilt from Postgres, the live view, the forecast and queue management.

use contracts::vocabulary::Priority;
use platform::auth::Role;
use routing::adapters::live::LiveQueues;
use serde_json::json;
use uuid::Uuid;

use super::*;

#[tokio::test]
async fn the_live_state_is_rebuilt_from_postgres_after_redis_loses_it() {
    let app = app().await;
    let agent = online_agent(&app, "junior", &[], &["zh-CN"], json!({"chat": 2})).await;
    let token = app.token(agent, Role::Agent);
    let tickets: Vec<_> = (0..3).map(|_| created(Priority::Normal, None)).collect();
    app.publish(&tickets[0]).await;
    testkit::eventually(10, "first offered", || async {
        Ok(offers_of(&app, agent)
            .await
            .contains(&tickets[0].data.ticket_id.as_uuid())
            .then_some(()))
    })
    .await
    .expect("offer");
    let t0 = tickets[0].data.ticket_id.as_uuid();
    assert_eq!(
        app.post_json(&format!("/v1/offers/{t0}/accept"), &token, &Value::Null)
            .await
            .0,
        200
    );
    app.publish(&tickets[1]).await;
    app.publish(&tickets[2]).await;
    let t1 = tickets[1].data.ticket_id.as_uuid();
    let t2 = tickets[2].data.ticket_id.as_uuid();
    testkit::eventually(10, "second offered, third waiting", || async {
        let offered = offers_of(&app, agent).await.len() == 1;
        let waiting =
            entry_json(&app, t2).await["status"] == "waiting" || entry_json(&app, t1).await["status"] == "waiting";
        Ok((offered && waiting).then_some(()))
    })
    .await
    .expect("state");
    let offered = offers_of(&app, agent).await[0];
    let waiting = if offered == t1 { t2 } else { t1 };
    assert_eq!(chat_load(&app, agent).await, 2);

    // Redis loses everything routing had.
    let mut conn = app.platform.redis.conn.clone();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(app.platform.redis.keys.pattern())
        .query_async(&mut conn)
        .await
        .expect("keys");
    let _: () = redis::AsyncCommands::del(&mut conn, keys).await.expect("flush");
    let (status, _) = app
        .put_json(
            &format!("/v1/agents/{agent}/presence"),
            &token,
            &json!({"status": "online"}),
        )
        .await;
    assert_eq!(status, 200);
    let live = LiveQueues::new(app.platform.redis.clone());
    testkit::eventually(10, "rebuilt", || async { Ok(live.is_built().await?.then_some(())) })
        .await
        .expect("rebuilt");
    assert_eq!(
        live.waiting("general", 10).await.expect("live"),
        vec![waiting.to_string()]
    );
    assert_eq!(
        chat_load(&app, agent).await,
        2,
        "the held and the offered ticket count again"
    );
    let (status, accepted) = app
        .post_json(&format!("/v1/offers/{offered}/accept"), &token, &Value::Null)
        .await;
    assert_eq!(status, 200, "the offer survived: {accepted}");

    let supervisor = app.token(Uuid::new_v4(), Role::Supervisor);
    assert_eq!(
        app.post_json("/v1/admin/rebuild", &supervisor, &Value::Null).await.0,
        403
    );
    let rebuilt = rebuild(&app).await;
    assert_eq!(rebuilt["entries"], 3);
    assert_eq!(chat_load(&app, agent).await, 2);
    assert_eq!(
        live.waiting("general", 10).await.expect("live"),
        vec![waiting.to_string()]
    );
}

#[tokio::test]
async fn a_state_larger_than_one_pipeline_is_rebuilt_whole() {
    let app = app().await;
    // More waiting tickets, holdings and agents than one rebuild pipeline carries (500), so
    // every step spans several pipelines. The agents are full once their holdings are back, so
    // the dispatcher leaves the waiting tickets where they are.
    let mut agents = Vec::new();
    for _ in 0..12 {
        agents.push(online_agent(&app, "junior", &[], &["zh-CN"], json!({"web": 47})).await);
    }
    sqlx::query(
        "INSERT INTO queue_entry (ticket_id, customer_id, queue, channel, priority, status, score, enqueued_at, tier) \
         SELECT gen_random_uuid(), gen_random_uuid(), 'general', 'web', 'normal', 'waiting', 1000 + g, now(), 'junior' \
         FROM generate_series(1, 1234) g",
    )
    .execute(&app.platform.pool)
    .await
    .expect("waiting");
    // 47 held by each agent: 564 in all, the last ones offered.
    sqlx::query(
        "INSERT INTO queue_entry (ticket_id, customer_id, queue, channel, priority, status, score, enqueued_at, tier, \
                                  agent_id, offer_expires_at) \
         SELECT gen_random_uuid(), gen_random_uuid(), 'general', 'web', 'normal', \
                CASE WHEN g % 47 = 0 THEN 'offered' ELSE 'assigned' END, g, now(), 'junior', a.id, \
                CASE WHEN g % 47 = 0 THEN now() + interval '1 hour' END \
         FROM unnest($1::uuid[]) a(id), generate_series(1, 47) g",
    )
    .bind(&agents)
    .execute(&app.platform.pool)
    .await
    .expect("held");
    let rebuilt = rebuild(&app).await;
    assert_eq!(rebuilt["entries"], 1234 + 564);
    let live = LiveQueues::new(app.platform.redis.clone());
    let waiting = live.waiting("general", 5000).await.expect("waiting");
    assert_eq!(waiting.len(), 1234, "every waiting ticket is queued again");
    let ids: Vec<contracts::AgentId> = agents.iter().map(|a| (*a).into()).collect();
    let states = live
        .agents(&ids, app.platform.clock.now().timestamp_millis())
        .await
        .expect("agents");
    for (agent, state) in agents.iter().zip(&states) {
        assert_eq!(state.load.get("web"), Some(&47), "load of {agent}");
    }
    let mut conn = app.platform.redis.conn.clone();
    let count = async |kind: &str| -> usize {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(app.platform.redis.keys.key(&[kind, "*"]))
            .query_async(&mut conn.clone())
            .await
            .expect("keys");
        keys.len()
    };
    assert_eq!(count("holder").await, 12 * 46, "every assignment is held again");
    assert_eq!(count("offer").await, 12, "every offer is open again");
    let offers: usize = redis::AsyncCommands::zcard(&mut conn, app.platform.redis.keys.key(&["offers"]))
        .await
        .expect("offers");
    assert_eq!(offers, 12, "and waits for the sweeper");
    // Capacities came back too.
    let capacity: Option<u16> = redis::AsyncCommands::hget(
        &mut conn,
        app.platform.redis.keys.key(&["cap", &agents[0].to_string()]),
        "web",
    )
    .await
    .expect("cap");
    assert_eq!(capacity, Some(47));
}

#[tokio::test]
async fn supervisors_see_the_live_view_and_a_staffing_forecast() {
    let app = app().await;
    let supervisor = app.token(Uuid::new_v4(), Role::Supervisor);
    let junior = online_agent(&app, "junior", &[], &["zh-CN"], json!({"chat": 1})).await;
    let _senior = online_agent(&app, "senior", &["complaint"], &["zh-CN"], json!({"chat": 2})).await;
    for _ in 0..3 {
        app.publish(&created(Priority::Normal, None)).await;
    }
    testkit::eventually(10, "one offered, two waiting", || async {
        let view = app.get_json("/v1/live", &supervisor).await;
        let general = view["queues"]
            .as_array()
            .and_then(|q| q.iter().find(|q| q["name"] == "general").cloned())
            .unwrap_or_default();
        Ok(
            (general["waiting"] == 2 && general["arrivals_last_hour"] == 3 && view["agents"]["junior"]["load"] == 1)
                .then_some(view),
        )
    })
    .await
    .map(|view| {
        let general = view["queues"]
            .as_array()
            .and_then(|q| q.iter().find(|q| q["name"] == "general").cloned())
            .expect("general");
        assert_eq!(general["agents_online"], 1);
        assert_eq!(general["arrivals_last_hour"], 3);
        assert!(general["oldest_wait_secs"].as_i64().is_some());
        assert!(
            general["estimated_wait_secs"].as_i64().unwrap_or(0) >= 600,
            "two ahead, one agent: {general}"
        );
        assert_eq!(view["agents"]["junior"]["online"], 1);
        assert_eq!(view["agents"]["junior"]["load"], 1);
        assert_eq!(view["agents"]["junior"]["capacity"], 1);
        assert_eq!(view["agents"]["senior"]["online"], 1);
        assert_eq!(view["agents"]["mid"]["online"], 0);
        assert_eq!(view["outlook"]["contacts_last_hour"], 3);
        assert_eq!(view["outlook"]["agents_online"], 2);
        assert!(view["first_response_today"]["share"].is_null());
    })
    .expect("live view");
    let _ = junior;
    assert_eq!(
        app.get("/v1/live", &app.token(Uuid::new_v4(), Role::Agent))
            .send()
            .await
            .expect("get")
            .status(),
        403
    );
    assert_eq!(
        app.get("/v1/live?target_share=2", &supervisor)
            .send()
            .await
            .expect("get")
            .status(),
        422
    );

    let (status, forecast) = app
        .post_json(
            "/v1/forecast",
            &supervisor,
            &json!({"handle_secs": 300, "answer_within_secs": 300, "target_share": 0.9, "shrinkage": 0.3,
                    "intervals": [{"contacts": 20}, {"contacts": 120}, {"contacts": 400}]}),
        )
        .await;
    assert_eq!(status, 200, "{forecast}");
    let needed: Vec<u64> = forecast["intervals"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["agents_needed"].as_u64().unwrap_or(0))
        .collect();
    assert!(needed[0] < needed[1] && needed[1] < needed[2], "{needed:?}");
    for row in forecast["intervals"].as_array().expect("rows") {
        assert!(row["service_level"].as_f64().unwrap_or(0.0) >= 0.9);
        assert!(row["occupancy"].as_f64().unwrap_or(1.0) <= 0.85);
        assert!(row["agents_scheduled"].as_u64() > row["agents_needed"].as_u64());
    }
    assert_eq!(forecast["peak_agents"], forecast["intervals"][2]["agents_scheduled"]);
    let (status, problem) = app
        .post_json(
            "/v1/forecast",
            &supervisor,
            &json!({"handle_secs": 0, "target_share": 1.5, "intervals": [{"contacts": -1}]}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"].as_array().map(Vec::len), Some(3), "{problem}");
}

#[tokio::test]
async fn queues_are_data_that_supervisors_change() {
    let app = app().await;
    let supervisor = app.token(Uuid::new_v4(), Role::Supervisor);
    let agent = app.token(Uuid::new_v4(), Role::Agent);
    let body = json!({"description": "Refund chats", "categories": ["refund"], "channels": ["chat"], "tier": "senior",
                      "skill": "refund", "precedence": 20});
    assert_eq!(
        app.put_json("/v1/queues/refund-chat", &agent, &body.clone()).await.0,
        403
    );
    let (status, problem) = app
        .put_json(
            "/v1/queues/Bad Name",
            &supervisor,
            &json!({"categories": ["astrology"], "channels": ["fax"], "tier": "guru"}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"].as_array().map(Vec::len), Some(4), "{problem}");
    let (status, q) = app.put_json("/v1/queues/refund-chat", &supervisor, &body.clone()).await;
    assert_eq!(status, 201, "{q}");
    assert_eq!(app.put_json("/v1/queues/refund-chat", &supervisor, &body).await.0, 200);

    let env = created(Priority::Normal, Some("refund"));
    app.publish(&env).await;
    testkit::eventually(10, "placed by the new queue", || async {
        let e = entry_json(&app, env.data.ticket_id.as_uuid()).await;
        Ok((e["queue"] == "refund-chat").then_some(e))
    })
    .await
    .map(|e| {
        assert_eq!(e["tier"], "senior");
        assert_eq!(e["skill"], "refund");
    })
    .expect("placed");
}
