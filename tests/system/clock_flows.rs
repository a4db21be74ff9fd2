//! Time on the running platform comes from each service's clock: with manual clocks, one
//! ticket is taken through its SLA warning, its breach and escalation, and its automatic close
//! by moving the clocks through the admin API, without waiting for them.

use chrono::{DateTime, Utc};
use platform::auth::Role;
use serde_json::{Value, json};
use system_tests::{Stack, token};
use uuid::Uuid;

const START: &str = "2026-09-01T08:00:00Z";

/// Moves `service`'s clock forward by `secs`; the new time.
async fn advance(stack: &Stack, service: &str, secs: u64) -> DateTime<Utc> {
    let admin = token(Uuid::new_v4(), Role::Admin);
    let (status, clock) = stack
        .post_json(service, "/v1/admin/clock", &admin, &json!({"advance_secs": secs}))
        .await;
    assert_eq!(status, 200, "{clock}");
    clock["now"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("the clock's time")
}

async fn sla_log(stack: &Stack, ticket: Uuid, kind: &str) -> Value {
    let supervisor = token(Uuid::new_v4(), Role::Supervisor);
    testkit::eventually(20, kind, || async {
        let (status, sla) = stack
            .get_status("routing", &format!("/v1/tickets/{ticket}/sla"), &supervisor)
            .await;
        Ok((status == 200
            && sla["log"]
                .as_array()
                .is_some_and(|l| l.iter().any(|x| x["kind"] == kind)))
        .then_some(sla))
    })
    .await
    .unwrap_or_else(|e| panic!("{kind}: {e}"))
}

#[tokio::test]
async fn a_ticket_goes_through_its_warning_breach_and_automatic_close_as_the_clocks_move() {
    let supervisor_id = Uuid::new_v4();
    let supervisor_env = supervisor_id.to_string();
    let stack = Stack::start_with(
        &[("CLOCK__MODE", "manual"), ("CLOCK__START", START)],
        &[("routing", "SERVICE__ESCALATION_SUPERVISOR_ID", &supervisor_env)],
    )
    .await
    .expect("stack");
    let supervisor = token(supervisor_id, Role::Supervisor);
    let (status, p) = stack
        .put_json(
            "routing",
            "/v1/sla-policies/resources-ten-minutes",
            &supervisor,
            &json!({"name": "resources-ten-minutes", "categories": ["resource_request"],
                    "first_response_secs": 600, "precedence": 100}),
        )
        .await;
    assert_eq!(status, 201, "{p}");
    // Policies are cached for up to catalog_refresh_ms (real time).
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;

    let customer = Uuid::new_v4();
    let ticket = stack
        .open_ticket(customer, "需要课程讲义", "请问第三章的讲义在哪里下载？找不到资料入口。")
        .await;
    assert_eq!(ticket["created_at"], START, "stamped by intake's clock");
    let id: Uuid = ticket["id"].as_str().and_then(|s| s.parse().ok()).expect("id");
    let sla = sla_log(&stack, id, "applied").await;
    assert!(
        !sla["log"]
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x["kind"] == "warned")),
        "{sla}"
    );

    // 80% of the ten minutes on routing's clock: the warning, nothing more.
    advance(&stack, "routing", 481).await;
    let sla = sla_log(&stack, id, "warned").await;
    assert!(
        !sla["log"]
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x["kind"] == "breached")),
        "{sla}"
    );
    // Past the target: breached and escalated a tier up.
    advance(&stack, "routing", 120).await;
    sla_log(&stack, id, "breached").await;
    let (_, entry) = stack
        .get_status("routing", &format!("/v1/queue-entries/{id}"), &supervisor)
        .await;
    // Escalated at least a tier up (each metric the policy runs can escalate).
    assert!(entry["escalations"].as_i64() >= Some(1), "{entry}");
    assert_ne!(entry["tier"], "junior", "{entry}");

    // An agent answers and resolves it in intake; 72 quiet hours later on intake's clock it
    // closes by itself.
    let agent = token(Uuid::new_v4(), Role::Agent);
    for action in ["start", "resolve"] {
        let (status, t) = stack
            .post_json(
                "intake",
                &format!("/v1/tickets/{id}/transitions"),
                &agent,
                &json!({"action": action}),
            )
            .await;
        assert_eq!(status, 200, "{action}: {t}");
    }
    let closes_at = advance(&stack, "intake", 72 * 3600 + 60).await;
    let closed = testkit::eventually(20, "closed by itself", || async {
        let (_, t) = stack.get_status("intake", &format!("/v1/tickets/{id}"), &agent).await;
        Ok((t["status"] == "closed").then_some(t))
    })
    .await
    .expect("closed");
    let closed_at: DateTime<Utc> = closed["closed_at"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("closed_at");
    assert_eq!(closed_at, closes_at, "closed at intake's clock time");
    stack.stop().await.expect("stop");
}
