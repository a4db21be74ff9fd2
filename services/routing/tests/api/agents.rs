//! Agents and presence.

use contracts::AgentId;
use platform::auth::Role;
use serde_json::{Value, json};
use testkit::TestApp;
use uuid::Uuid;

fn profile() -> Value {
    json!({"display_name": "李老师", "tier": "senior", "skills": ["complaint", "refund"], "languages": ["zh-CN", "en"],
           "capacity": {"chat": 3, "email": 8}, "time_zone": "Asia/Shanghai",
           "working_hours": [{"days": [1, 2, 3, 4, 5, 6, 7], "start": "00:00", "end": "23:59"}]})
}

#[tokio::test]
async fn supervisors_define_agents_and_bad_profiles_are_refused() {
    let app = testkit::start(&routing::SPEC, &[]).await;
    let id = Uuid::new_v4();
    let supervisor = app.token(Uuid::new_v4(), Role::Supervisor);
    let (status, created) = app.put_json(&format!("/v1/agents/{id}"), &supervisor, &profile()).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["tier"], "senior");
    assert_eq!(created["capacity"]["email"], 8);
    assert_eq!(created["presence"], "offline");
    assert_eq!(created["working_now"], true);
    let (status, _) = app.put_json(&format!("/v1/agents/{id}"), &supervisor, &profile()).await;
    assert_eq!(status, 200, "replaced");

    let agent = app.token(id, Role::Agent);
    let (status, _) = app.put_json(&format!("/v1/agents/{id}"), &agent, &profile()).await;
    assert_eq!(status, 403, "agents do not define agents");
    let (status, problem) = app
        .put_json(
            &format!("/v1/agents/{}", Uuid::new_v4()),
            &supervisor,
            &json!({"display_name": "", "tier": "guru", "capacity": {"fax": 1}}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"].as_array().map(Vec::len), Some(3), "{problem}");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM agent")
        .fetch_one(&app.platform.pool)
        .await
        .expect("count");
    assert_eq!(n, 1);

    let listed: Value = app.get_json("/v1/agents?tier=senior", &supervisor).await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
    let none: Value = app.get_json("/v1/agents?tier=junior", &supervisor).await;
    assert_eq!(none["items"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn an_agent_whose_heartbeat_stops_goes_away() {
    let app = testkit::start(&routing::SPEC, &[("ROUTING__SERVICE__PRESENCE_TTL_SECS", "2")]).await;
    let id = Uuid::new_v4();
    let supervisor = app.token(Uuid::new_v4(), Role::Supervisor);
    assert_eq!(
        app.put_json(&format!("/v1/agents/{id}"), &supervisor, &profile())
            .await
            .0,
        201
    );
    let agent = app.token(id, Role::Agent);
    let heartbeat = || app.post(&format!("/v1/agents/{id}/heartbeat"), &agent).send();
    assert_eq!(
        heartbeat().await.expect("beat").status(),
        409,
        "offline: nothing to keep alive"
    );

    let (status, set) = app
        .put_json(
            &format!("/v1/agents/{id}/presence"),
            &agent,
            &json!({"status": "online"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(set["heartbeat_within_secs"], 2);
    // The dispatcher reads the states of listed online agents only.
    let live = routing::adapters::live::LiveQueues::new(app.platform.redis.clone());
    let listed = async || {
        let now_ms = app.platform.clock.now().timestamp_millis();
        live.online_ids(now_ms).await.expect("online").unwrap_or_default()
    };
    assert_eq!(listed().await, vec![AgentId::from(id)]);
    // An entry whose heartbeats stopped long ago (a replica died mid-way) is dropped on reading.
    let key = routing::adapters::live::presence::online_key(&app.platform.redis.keys);
    let stale = Uuid::new_v4().to_string();
    let mut conn = app.platform.redis.conn.clone();
    let long_ago = chrono::Utc::now().timestamp_millis() - 60_000;
    let _: () = redis::AsyncCommands::zadd(&mut conn, &key, &stale, long_ago)
        .await
        .expect("zadd");
    assert_eq!(listed().await, vec![AgentId::from(id)]);
    let left: Option<f64> = redis::AsyncCommands::zscore(&mut conn, &key, &stale)
        .await
        .expect("zscore");
    assert_eq!(left, None);
    let other = app.token(Uuid::new_v4(), Role::Agent);
    let (status, _) = app
        .put_json(
            &format!("/v1/agents/{id}/presence"),
            &other,
            &json!({"status": "offline"}),
        )
        .await;
    assert_eq!(
        status, 404,
        "only the agent or a supervisor: another agent's presence is not found"
    );
    let (status, _) = app
        .put_json(
            &format!("/v1/agents/{id}/presence"),
            &agent,
            &json!({"status": "asleep"}),
        )
        .await;
    assert_eq!(status, 422);

    let presence = |app: &TestApp| {
        let supervisor = supervisor.clone();
        let url = format!("/v1/agents/{id}");
        let req = app.get(&url, &supervisor);
        async move {
            req.send().await.expect("get").json::<Value>().await.expect("json")["presence"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        }
    };
    assert_eq!(presence(&app).await, "online");
    // Heartbeats keep it online past the time to live...
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(heartbeat().await.expect("beat").status(), 204);
    }
    assert_eq!(presence(&app).await, "online");
    // ...and without them the agent goes away, until the next heartbeat.
    tokio::time::sleep(std::time::Duration::from_millis(4200)).await;
    assert_eq!(presence(&app).await, "away");
    let away: Value = app.get_json("/v1/agents?presence=away", &supervisor).await;
    assert_eq!(away["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(heartbeat().await.expect("beat").status(), 204);
    assert_eq!(presence(&app).await, "online");
    assert_eq!(listed().await, vec![AgentId::from(id)], "listed again by the heartbeat");
    let (status, _) = app
        .put_json(
            &format!("/v1/agents/{id}/presence"),
            &agent,
            &json!({"status": "offline"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(presence(&app).await, "offline");
    assert!(listed().await.is_empty(), "offline agents are not listed");
}
