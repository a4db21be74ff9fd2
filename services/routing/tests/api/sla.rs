//! Service-level policies and clocks: applied, warned, breached and escalated, paused while
//! the ticket waits on the customer, stopped by the agent's reply.

use std::time::Duration;

use contracts::intake::TicketMessageAddedV1;
use contracts::vocabulary::Priority;
use platform::auth::Role;
use serde_json::json;
use uuid::Uuid;

use super::*;

async fn sla_of(app: &TestApp, ticket: Uuid) -> Value {
    app.get_json(
        &format!("/v1/tickets/{ticket}/sla"),
        &app.token(Uuid::new_v4(), Role::Agent),
    )
    .await
}

/// The log's (metric, kind) pairs.
fn kinds(sla: &Value) -> Vec<(String, String)> {
    sla["log"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|e| {
                    (
                        e["metric"].as_str().unwrap_or_default().to_owned(),
                        e["kind"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn has(sla: &Value, metric: &str, kind: &str) -> bool {
    kinds(sla).iter().any(|(m, k)| m == metric && k == kind)
}

fn status_changed(
    ticket: &EventEnvelope<TicketCreatedV1>,
    from: &str,
    to: &str,
    agent: Uuid,
) -> EventEnvelope<TicketStatusChangedV1> {
    let mut env = changed(ticket, from, to);
    env.data.assignee_id = Some(agent.into());
    env.data.actor_id = agent;
    env
}

fn agent_reply(ticket: &EventEnvelope<TicketCreatedV1>, agent: Uuid) -> EventEnvelope<TicketMessageAddedV1> {
    EventEnvelope::new(
        "intake",
        TicketMessageAddedV1 {
            ticket_id: ticket.data.ticket_id,
            customer_id: ticket.data.customer_id,
            message_id: Uuid::now_v7().into(),
            author_role: "agent".into(),
            author_id: agent,
            visibility: "public".into(),
            kind: "message".into(),
            first_response: true,
            added_at: Utc::now(),
        },
    )
}

#[tokio::test]
async fn a_missed_first_response_warns_then_escalates_and_tells_the_supervisor() {
    let supervisor_id = Uuid::new_v4();
    let app = testkit::start(
        &routing::SPEC,
        &[("ROUTING__SERVICE__ESCALATION_SUPERVISOR_ID", &supervisor_id.to_string())],
    )
    .await;
    let supervisor = app.token(supervisor_id, Role::Supervisor);
    let policy = json!({"name": "fast-resources", "description": "Resource requests answered in 2 s (test)",
        "categories": ["resource_request"], "first_response_secs": 2, "resolution_secs": 3600, "precedence": 100});
    let (status, _) = app
        .put_json(
            "/v1/sla-policies/fast-resources",
            &app.token(Uuid::new_v4(), Role::Agent),
            &policy.clone(),
        )
        .await;
    assert_eq!(status, 403);
    let (status, problem) = app
        .put_json(
            "/v1/sla-policies/bad",
            &supervisor,
            &json!({"name": "bad", "channels": ["fax"], "tiers": ["guru"], "first_response_secs": 0,
               "business_hours": {"time_zone": "Mars/Olympus", "hours": []}}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"].as_array().map(Vec::len), Some(5), "{problem}");
    let (status, created_policy) = app
        .put_json("/v1/sla-policies/fast-resources", &supervisor, &policy)
        .await;
    assert_eq!(status, 201, "{created_policy}");

    let env = created(Priority::Normal, Some("resource_request"));
    app.publish(&env).await;
    let ticket = env.data.ticket_id.as_uuid();
    let sla = testkit::eventually(15, "breached", || async {
        let sla = sla_of(&app, ticket).await;
        Ok(has(&sla, "first_response", "breached").then_some(sla))
    })
    .await
    .expect("breach");
    let first: Vec<String> = kinds(&sla)
        .into_iter()
        .filter(|(m, _)| m == "first_response")
        .map(|(_, k)| k)
        .collect();
    assert_eq!(first, ["applied", "warned", "breached"]);
    assert_eq!(sla["log"][0]["detail"]["policy"], "fast-resources");
    let timers = sla["timers"].as_array().expect("timers");
    assert!(
        timers
            .iter()
            .any(|t| t["metric"] == "first_response" && t["status"] == "breached")
    );
    assert!(
        timers
            .iter()
            .any(|t| t["metric"] == "resolution" && t["status"] == "running" && t["target_secs"] == 3600)
    );

    // Escalated: up a tier (resources are junior work), priority raised.
    let entry = entry_json(&app, ticket).await;
    assert_eq!(entry["tier"], "mid");
    assert_eq!(entry["priority"], "high");
    testkit::eventually(10, "warning, breach and escalation announced", || async {
        let w = events_about(&app, "routing.sla.warning", ticket).await;
        let b = events_about(&app, "routing.sla.breached", ticket).await;
        let e = events_about(&app, "routing.ticket.escalated", ticket).await;
        Ok((w.len() == 1 && b.len() == 1 && e.len() == 1).then_some(b))
    })
    .await
    .map(|b| {
        assert_eq!(b[0]["data"]["supervisor_id"], supervisor_id.to_string());
        assert_eq!(b[0]["data"]["metric"], "first_response");
        assert_eq!(b[0]["data"]["escalated_to_tier"], "mid");
    })
    .expect("events");

    // The late reply still stops the clock, counted as missed.
    let agent = Uuid::new_v4();
    app.publish(&agent_reply(&env, agent)).await;
    let sla = testkit::eventually(10, "fulfilled", || async {
        let sla = sla_of(&app, ticket).await;
        Ok(has(&sla, "first_response", "fulfilled").then_some(sla))
    })
    .await
    .expect("fulfilled");
    let fulfilled = sla["log"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["kind"] == "fulfilled").cloned())
        .expect("entry");
    assert_eq!(fulfilled["detail"]["within_target"], false);
    assert!(
        has(&sla, "next_update", "applied"),
        "the reply starts the next-update clock"
    );
    let unknown = app
        .get(&format!("/v1/tickets/{}/sla", Uuid::new_v4()), &supervisor)
        .send()
        .await
        .expect("get");
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn clocks_stand_still_while_the_ticket_waits_on_the_customer() {
    let app = app().await;
    let supervisor = app.token(Uuid::new_v4(), Role::Supervisor);
    let (status, _) = app
        .put_json(
            "/v1/sla-policies/quick-progress",
            &supervisor,
            &json!({"name": "quick-progress", "categories": ["learning_progress"], "first_response_secs": 3600,
               "resolution_secs": 3, "escalate_on_breach": false, "precedence": 100}),
        )
        .await;
    assert_eq!(status, 201);
    let env = created(Priority::Normal, Some("learning_progress"));
    let agent = Uuid::new_v4();
    app.publish(&env).await;
    let ticket = env.data.ticket_id.as_uuid();
    testkit::eventually(10, "applied", || async {
        Ok(has(&sla_of(&app, ticket).await, "resolution", "applied").then_some(()))
    })
    .await
    .expect("applied");
    app.publish(&status_changed(&env, "queued", "in_progress", agent)).await;
    app.publish(&agent_reply(&env, agent)).await;
    app.publish(&status_changed(&env, "in_progress", "waiting_on_customer", agent))
        .await;
    testkit::eventually(10, "paused", || async {
        Ok(has(&sla_of(&app, ticket).await, "resolution", "paused").then_some(()))
    })
    .await
    .expect("paused");
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let sla = sla_of(&app, ticket).await;
    assert!(!has(&sla, "resolution", "breached"), "no breach while paused: {sla}");
    assert!(has(&sla, "first_response", "fulfilled"));

    app.publish(&status_changed(&env, "waiting_on_customer", "in_progress", agent))
        .await;
    let sla = testkit::eventually(15, "breached after resuming", || async {
        let sla = sla_of(&app, ticket).await;
        Ok(has(&sla, "resolution", "breached").then_some(sla))
    })
    .await
    .expect("breach");
    let resolution: Vec<String> = kinds(&sla)
        .into_iter()
        .filter(|(m, _)| m == "resolution")
        .map(|(_, k)| k)
        .collect();
    assert_eq!(resolution.first().map(String::as_str), Some("applied"));
    let paused = resolution.iter().position(|k| k == "paused").expect("paused");
    let resumed = resolution.iter().position(|k| k == "resumed").expect("resumed");
    assert!(paused < resumed && resumed < resolution.len() - 1, "{resolution:?}");
    assert_eq!(resolution.last().map(String::as_str), Some("breached"));
    // This policy does not move breached tickets up a tier.
    let entry = entry_json(&app, ticket).await;
    assert_eq!(entry["tier"], "mid");
    let b = testkit::eventually(10, "breach announced", || async {
        let b = events_about(&app, "routing.sla.breached", ticket).await;
        Ok((b.len() == 1).then_some(b))
    })
    .await
    .expect("breach event");
    assert!(b[0]["data"]["escalated_to_tier"].is_null());

    // Resolved: every open clock stops.
    app.publish(&status_changed(&env, "in_progress", "resolved", agent))
        .await;
    testkit::eventually(10, "stopped", || async {
        let sla = sla_of(&app, ticket).await;
        let open = sla["timers"]
            .as_array()
            .map(|t| t.iter().any(|t| t["finished_at"].is_null()))
            .unwrap_or(true);
        Ok((!open).then_some(()))
    })
    .await
    .expect("all stopped");
}
