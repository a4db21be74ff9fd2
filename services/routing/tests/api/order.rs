//! Events carry an order: intake's events about a ticket, delivered in any order, leave it in the
//! state the newest says; routing's own events about a ticket are numbered in order.

use chrono::Duration;
use contracts::vocabulary::Priority;
use platform::auth::Role;
use serde_json::json;
use uuid::Uuid;

use super::*;

/// Every ordering of `0..n`.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for rest in permutations(n - 1) {
        for at in 0..=rest.len() {
            let mut p = rest.clone();
            p.insert(at, n - 1);
            out.push(p);
        }
    }
    out
}

/// Intake's status change of `ticket`, the `seq`-th event about it, by `agent`.
fn numbered_change(
    ticket: &EventEnvelope<TicketCreatedV1>,
    from: &str,
    to: &str,
    agent: Uuid,
    seq: i64,
) -> EventEnvelope<TicketStatusChangedV1> {
    let mut env = changed(ticket, from, to);
    env.data.assignee_id = Some(agent.into());
    env.data.actor_id = agent;
    env.in_sequence(seq)
}

/// A ticket's intake events, `created` first, as raw envelopes in order.
fn story(steps: &[(&str, &str)], agent: Uuid) -> (Uuid, Vec<contracts::RawEnvelope>) {
    let created = created(Priority::Normal, None).in_sequence(1);
    let mut events = vec![created.clone().into_raw().expect("raw")];
    for (i, (from, to)) in steps.iter().enumerate() {
        let seq = i64::try_from(i).expect("small") + 2;
        events.push(numbered_change(&created, from, to, agent, seq).into_raw().expect("raw"));
    }
    (created.data.ticket_id.as_uuid(), events)
}

async fn publish_raw(app: &TestApp, env: &contracts::RawEnvelope) {
    let value = serde_json::to_value(env).expect("json");
    app.publish_value(&env.event_type, &value).await;
}

#[tokio::test]
async fn intake_events_delivered_in_any_order_leave_the_state_the_newest_says() {
    let app = testkit::start(
        &routing::SPEC,
        &[("CLOCK__MODE", "manual"), ("BUS__RETRY_DELAYS_MS", "100,200,400,800")],
    )
    .await;
    let agent = Uuid::new_v4();
    // Resolved, then reopened and queued again: the reopened ticket must end queued.
    let reopened = [
        ("queued", "in_progress"),
        ("in_progress", "resolved"),
        ("resolved", "queued"),
    ];
    // Waiting on the customer, then the customer replied: the clocks must end running.
    let resumed = [
        ("queued", "in_progress"),
        ("in_progress", "waiting_on_customer"),
        ("waiting_on_customer", "in_progress"),
    ];
    let mut reopened_tickets = Vec::new();
    let mut resumed_tickets = Vec::new();
    // Every order of the four events of each story, `created` included (events about a ticket
    // whose `created` is still in flight are retried until it lands).
    for order in permutations(4) {
        for (steps, tickets) in [(&reopened, &mut reopened_tickets), (&resumed, &mut resumed_tickets)] {
            let (ticket, events) = story(steps, agent);
            for i in &order {
                publish_raw(&app, &events[*i]).await;
            }
            tickets.push(ticket);
        }
    }
    let all: Vec<Uuid> = reopened_tickets.iter().chain(&resumed_tickets).copied().collect();
    testkit::eventually(30, "every ticket's newest status applied", || async {
        let done: i64 =
            sqlx::query_scalar("SELECT count(*) FROM queue_entry WHERE ticket_id = ANY($1) AND intake_seq = 4")
                .bind(&all)
                .fetch_one(&app.platform.pool)
                .await?;
        Ok((done == i64::try_from(all.len()).unwrap_or(0)).then_some(()))
    })
    .await
    .expect("all applied");

    let live = LiveQueues::new(app.platform.redis.clone());
    let waiting = live.waiting("general", 1000).await.expect("waiting");
    for ticket in &reopened_tickets {
        assert_eq!(
            entry_status(&app, *ticket).await.as_deref(),
            Some("waiting"),
            "reopened ticket {ticket}"
        );
        assert!(
            waiting.contains(&ticket.to_string()),
            "reopened ticket {ticket} in its live queue"
        );
    }
    for ticket in &resumed_tickets {
        assert_eq!(
            entry_status(&app, *ticket).await.as_deref(),
            Some("assigned"),
            "ticket {ticket}"
        );
        let statuses: Vec<String> = sqlx::query_scalar(
            "SELECT status FROM sla_timer WHERE ticket_id = $1 AND metric IN ('first_response', 'resolution')",
        )
        .bind(ticket)
        .fetch_all(&app.platform.pool)
        .await
        .expect("timers");
        assert!(
            !statuses.is_empty() && statuses.iter().all(|s| s == "running"),
            "the customer replied last: clocks of {ticket} run, {statuses:?}"
        );
    }
    app.stop().await.expect("stop");
}

#[tokio::test]
async fn routing_numbers_its_events_about_a_ticket_in_order() {
    let app = testkit::start(&routing::SPEC, &[("CLOCK__MODE", "manual")]).await;
    let agent = online_agent(&app, "junior", &[], &["zh-CN"], json!({"chat": 2})).await;
    let supervisor = app.token(Uuid::new_v4(), Role::Supervisor);
    let env = created(Priority::Normal, None);
    app.publish(&env).await;
    let ticket = env.data.ticket_id.as_uuid();
    testkit::eventually(10, "an offer", || async {
        Ok((offers_of(&app, agent).await == vec![ticket]).then_some(()))
    })
    .await
    .expect("offered");
    let (status, body) = app
        .post_json(
            &format!("/v1/offers/{ticket}/accept"),
            &app.token(agent, Role::Agent),
            &Value::Null,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .post_json(
            &format!("/v1/tickets/{ticket}/transfer"),
            &supervisor,
            &json!({"queue": "technical"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .post_json(
            &format!("/v1/tickets/{ticket}/escalate"),
            &supervisor,
            &json!({"reason": "test"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // The live-chat first response (30 s): warned at 24 s, breached at 30 s by the clock.
    app.platform.clock.advance(Duration::seconds(25)).expect("advance");
    testkit::eventually(10, "warned", || async {
        Ok((events_about(&app, "routing.sla.warning", ticket).await.len() == 1).then_some(()))
    })
    .await
    .expect("warning");
    app.platform.clock.advance(Duration::seconds(6)).expect("advance");
    testkit::eventually(10, "breached", || async {
        Ok((events_about(&app, "routing.sla.breached", ticket).await.len() == 1).then_some(()))
    })
    .await
    .expect("breach");

    let rows: Vec<(String, Option<i64>)> = sqlx::query_as(
        "SELECT event_type, (envelope->>'subjectseq')::bigint FROM outbox_event \
         WHERE envelope->>'subject' = $1 AND event_type LIKE 'routing.%' ORDER BY id",
    )
    .bind(ticket.to_string())
    .fetch_all(&app.platform.pool)
    .await
    .expect("events");
    let types: Vec<&str> = rows.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "routing.ticket.queued",
            "routing.ticket.offered",
            "routing.ticket.assigned",
            "routing.ticket.transferred",
            "routing.ticket.escalated",
            "routing.sla.warning",
            "routing.ticket.escalated",
            "routing.sla.breached",
        ]
    );
    let seqs: Vec<i64> = rows
        .iter()
        .map(|(t, s)| s.unwrap_or_else(|| panic!("{t} carries no subjectseq")))
        .collect();
    assert_eq!(seqs[0], 1, "{seqs:?}");
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "strictly increasing: {seqs:?}");
    let version: i64 = sqlx::query_scalar("SELECT version FROM queue_entry WHERE ticket_id = $1")
        .bind(ticket)
        .fetch_one(&app.platform.pool)
        .await
        .expect("version");
    assert_eq!(version, *seqs.last().expect("events"));
    app.stop().await.expect("stop");
}
