//! Time from one source: service-level clocks, offers and presence follow the service's clock,
//! so a manual clock moved forward drives them without waiting.

use chrono::Duration;
use contracts::vocabulary::Priority;
use platform::auth::Role;
use serde_json::json;
use uuid::Uuid;

use super::*;

async fn manual_app(extra: &[(&str, &str)]) -> TestApp {
    let mut settings = vec![("CLOCK__MODE", "manual")];
    settings.extend_from_slice(extra);
    testkit::start(&routing::SPEC, &settings).await
}

async fn sla_log_kinds(app: &TestApp, ticket: Uuid, metric: &str) -> Vec<String> {
    let sla = app
        .get_json(
            &format!("/v1/tickets/{ticket}/sla"),
            &app.token(Uuid::new_v4(), Role::Supervisor),
        )
        .await;
    sla["log"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter(|e| e["metric"] == metric)
                .filter_map(|e| e["kind"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_first_response_target_warns_then_breaches_and_escalates_as_the_clock_moves() {
    let supervisor_id = Uuid::new_v4();
    let app = manual_app(&[("SERVICE__ESCALATION_SUPERVISOR_ID", &supervisor_id.to_string())]).await;
    let supervisor = app.token(supervisor_id, Role::Supervisor);
    let (status, body) = app
        .put_json(
            "/v1/sla-policies/ten-minutes",
            &supervisor,
            &json!({"name": "ten-minutes", "categories": ["resource_request"], "first_response_secs": 600,
               "resolution_secs": 86400, "escalate_on_breach": true, "precedence": 100}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let env = created(Priority::Normal, Some("resource_request"));
    app.publish(&env).await;
    let ticket = env.data.ticket_id.as_uuid();
    testkit::eventually(10, "the clock applied", || async {
        Ok((sla_log_kinds(&app, ticket, "first_response").await == ["applied"]).then_some(()))
    })
    .await
    .expect("applied");

    // Seven minutes: nothing yet, however long the test runs.
    app.platform.clock.advance(Duration::minutes(7)).expect("advance");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(sla_log_kinds(&app, ticket, "first_response").await, ["applied"]);
    assert!(events_about(&app, "routing.sla.warning", ticket).await.is_empty());

    // Past 80% (eight minutes): the warning, and the ticket moves ahead.
    app.platform.clock.advance(Duration::seconds(61)).expect("advance");
    let warning = testkit::eventually(10, "the warning", || async {
        let w = events_about(&app, "routing.sla.warning", ticket).await;
        Ok((w.len() == 1).then_some(w))
    })
    .await
    .expect("warning");
    assert_eq!(warning[0]["data"]["metric"], "first_response");
    assert_eq!(warning[0]["data"]["target_secs"], 600);
    assert_eq!(
        sla_log_kinds(&app, ticket, "first_response").await,
        ["applied", "warned"]
    );
    assert!(events_about(&app, "routing.sla.breached", ticket).await.is_empty());
    assert_eq!(entry_json(&app, ticket).await["tier"], "junior");

    // Past the target: breached, escalated a tier up with a raised priority, the supervisor told.
    app.platform.clock.advance(Duration::minutes(2)).expect("advance");
    let breach = testkit::eventually(10, "the breach", || async {
        let b = events_about(&app, "routing.sla.breached", ticket).await;
        let e = events_about(&app, "routing.ticket.escalated", ticket).await;
        Ok((b.len() == 1 && e.len() == 1).then_some(b))
    })
    .await
    .expect("breach");
    assert_eq!(breach[0]["data"]["escalated_to_tier"], "mid");
    assert_eq!(breach[0]["data"]["supervisor_id"], supervisor_id.to_string());
    assert_eq!(
        sla_log_kinds(&app, ticket, "first_response").await,
        ["applied", "warned", "breached"]
    );
    let entry = entry_json(&app, ticket).await;
    assert_eq!(entry["tier"], "mid");
    assert_eq!(entry["priority"], "high");
    // The events' time is the clock's.
    let breached_at: chrono::DateTime<Utc> = breach[0]["time"].as_str().and_then(|t| t.parse().ok()).expect("time");
    assert_eq!(breached_at, app.platform.clock.now());
    app.stop().await.expect("stop");
}

#[tokio::test]
async fn an_offer_lapses_and_an_agent_without_heartbeats_goes_away_as_the_clock_moves() {
    let app = manual_app(&[]).await;
    let agent = online_agent(&app, "junior", &[], &["zh-CN"], json!({"chat": 2})).await;
    let token = app.token(agent, Role::Agent);
    let env = created(Priority::Normal, None);
    app.publish(&env).await;
    let ticket = env.data.ticket_id.as_uuid();
    testkit::eventually(10, "an offer", || async {
        Ok((offers_of(&app, agent).await == vec![ticket]).then_some(()))
    })
    .await
    .expect("offered");

    // The offer stands while the clock stands still; 21 s later by the clock (timeout 20 s) it
    // lapses, and the ticket is not offered to the same agent again.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(offers_of(&app, agent).await, vec![ticket]);
    app.platform.clock.advance(Duration::seconds(21)).expect("advance");
    testkit::eventually(10, "lapsed", || async {
        let entry = entry_json(&app, ticket).await;
        let lapsed = entry["log"]
            .as_array()
            .is_some_and(|l| l.iter().any(|e| e["kind"] == "offer_expired"));
        Ok((lapsed && entry["status"] == "waiting").then_some(()))
    })
    .await
    .expect("the offer lapsed");
    let (status, problem) = app
        .post_json(&format!("/v1/offers/{ticket}/accept"), &token, &Value::Null)
        .await;
    assert_eq!(status, 409, "{problem}");

    // Heartbeats keep the agent online by the clock; without one for longer than the presence
    // TTL (30 s) by the clock, they read as away and cannot pull.
    let presence = async || app.get_json(&format!("/v1/agents/{agent}"), &token).await["presence"].clone();
    assert_eq!(presence().await, "online");
    app.platform.clock.advance(Duration::seconds(5)).expect("advance");
    let (status, _) = app
        .post_json(&format!("/v1/agents/{agent}/heartbeat"), &token, &Value::Null)
        .await;
    assert!(status < 300, "heartbeat: {status}");
    app.platform.clock.advance(Duration::seconds(29)).expect("advance");
    assert_eq!(presence().await, "online", "29 s after the last heartbeat");
    app.platform.clock.advance(Duration::seconds(2)).expect("advance");
    assert_eq!(presence().await, "away");
    let (status, problem) = app
        .post_json(&format!("/v1/agents/{agent}/next"), &token, &Value::Null)
        .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "agent_not_online", "{problem}");
    let live = LiveQueues::new(app.platform.redis.clone());
    let now_ms = app.platform.clock.now().timestamp_millis();
    let states = live.agents(&[agent.into()], now_ms).await.expect("states");
    assert_eq!(states[0].presence, None);

    // A heartbeat brings them back.
    let (status, _) = app
        .post_json(&format!("/v1/agents/{agent}/heartbeat"), &token, &Value::Null)
        .await;
    assert!(status < 300, "heartbeat: {status}");
    assert_eq!(presence().await, "online");
    app.stop().await.expect("stop");
}
