//! Routing with two replicas: assignments per second vs pgbench single-insert transactions;
//! the live state rebuilt from Postgres; `intake.ticket.created` published → offer latency at
//! 500 tickets/s.

mod auto;
mod offers;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use platform::auth::Role;
use serde_json::json;
use sqlx::Connection;
use system_tests::{Stack, token};
use uuid::Uuid;

use crate::Args;
use crate::support::{busy_since, cpu_ticks, pct, pgbench_single_insert};

/// How far each pulling client moves along the agent list between requests, so clients rarely
/// ask for the same agent.
const AGENT_STRIDE: usize = 97;

/// Routing with two replicas: assignments per second (agents asking for their next ticket,
/// alternating replicas) vs pgbench single-insert transactions; the live state rebuilt from
/// Postgres; and `intake.ticket.created` published → offer at a steady rate.
pub async fn run(stack: &mut Stack, args: &Args, report: &mut String) -> anyhow::Result<()> {
    let raw_tps = pgbench_single_insert(args).await?;
    // Routing alone, as intake is measured alone: intake and notifications (which consume
    // routing's events) wait, their queues keeping the events, and drain them afterwards.
    stack.service("intake").stop().await?;
    stack.service("notifications").stop().await?;
    let second = stack.add_replica("routing").await?;
    let replicas = [stack.url("routing"), second];
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let supervisor = token(Uuid::new_v4(), Role::Supervisor);

    // Assignments: a queue of the bench's own (no category leads to it, so tickets earlier steps
    // left waiting elsewhere stay out of the way) is a pull queue, filled straight from Postgres and
    // rebuilt into Redis, then agents take tickets as fast as they can.
    let res = client
        .put(format!("{}/v1/queues/bench", replicas[0]))
        .bearer_auth(&supervisor)
        .json(&json!({"description": "Bench: pulled", "tier": "junior", "push": false}))
        .send()
        .await?;
    anyhow::ensure!(res.status().is_success(), "queue: {}", res.text().await?);
    let agents = routing_agents(&client, &replicas[0], 400, &[], 50).await?;
    let preload: i64 = 25_000;
    let rebuild_secs = preload_bench_queue(stack, &client, &replicas[0], preload).await?;
    // Both replicas' caches see the pull queue and the agents.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    eprintln!(
        "      {preload} waiting tickets rebuilt into Redis in {rebuild_secs:.1}s; {} agents pulling...",
        agents.len()
    );
    let stop = Arc::new(AtomicBool::new(false));
    let agents = Arc::new(agents);
    let mut tasks = Vec::new();
    for c in 0..args.clients {
        let (client, stop, agents, url) = (client.clone(), stop.clone(), agents.clone(), replicas[c % 2].clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut others: BTreeMap<u16, u64> = BTreeMap::new();
            let mut i = c;
            while !stop.load(Ordering::Relaxed) {
                let agent = agents[i % agents.len()];
                i += AGENT_STRIDE;
                let t = Instant::now();
                let res = client
                    .post(format!("{url}/v1/agents/{agent}/next"))
                    .bearer_auth(token(agent, Role::Agent))
                    .send()
                    .await;
                let code = res.as_ref().map(|r| r.status().as_u16()).unwrap_or(0);
                *others.entry(code).or_insert(0u64) += 1;
                if code == 200 {
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                }
            }
            (lat, others)
        }));
    }
    let run = Instant::now();
    let cpu = cpu_ticks();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = run.elapsed().as_secs_f64();
    let pull_busy = busy_since(cpu);
    let mut lat = Vec::new();
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    for t in tasks {
        let (l, s) = t.await?;
        lat.extend(l);
        for (code, n) in s {
            *statuses.entry(code).or_insert(0) += n;
        }
    }
    eprintln!("      \"next\" answers by status: {statuses:?}");
    lat.sort_by(f64::total_cmp);
    let assigned = lat.len();
    let rate = assigned as f64 / elapsed;

    // Offers: tickets published as intake publishes them, at a steady rate, offered by the two
    // replicas' dispatchers to agents with the skill.
    let offer_rate: u64 = 500;
    let _offerers = routing_agents(&client, &replicas[0], 100, &["technical"], 50).await?;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let cpu = cpu_ticks();
    let (to_offer, to_event, steady) = offers::created_to_offer(stack, offer_rate, args.seconds).await?;
    let offer_busy = busy_since(cpu);
    // Last, as its tens of thousands of events keep RabbitMQ busy for a while.
    let auto = auto::auto_assignments(stack, &client, &replicas, &supervisor, args).await?;
    stack.service("intake").restart().await?;
    stack.service("notifications").restart().await?;

    writeln!(
        report,
        "\n## Routing, two replicas (intake and notifications paused; their queues keep routing's events)\n"
    )?;
    writeln!(report, "| measure | value |\n|---|---|")?;
    writeln!(
        report,
        "| assignments/s: agents asking for their next ticket ({} clients, alternating replicas; Lua take + Postgres entry, log, assignment and outbox rows) | {rate:.0} |",
        args.clients
    )?;
    writeln!(
        report,
        "| raw PostgreSQL single-insert transactions (pgbench) tx/s | {raw_tps:.0} |"
    )?;
    writeln!(report, "| ratio (target ≥ 50%) | {:.0}% |", 100.0 * rate / raw_tps)?;
    writeln!(report, "| machine CPU busy while agents pull | {pull_busy:.0}% |")?;
    writeln!(
        report,
        "| \"next ticket\" request latency p50 / p99 ms | {:.1} / {:.1} |",
        pct(&lat, 0.5),
        pct(&lat, 0.99)
    )?;
    writeln!(
        report,
        "| assignments/s: both replicas' dispatchers giving waiting tickets to agents (auto-accept queue; Lua take + Postgres entry, log, assignment and outbox rows) | {:.0} |",
        auto.rate
    )?;
    writeln!(
        report,
        "| raw PostgreSQL single-insert transactions (pgbench) just before this step, tx/s | {:.0} |",
        auto.raw_tps
    )?;
    writeln!(
        report,
        "| ratio (target ≥ 50%): to pgbench just before / at the start of the run | {:.0}% / {:.0}% |",
        100.0 * auto.rate / auto.raw_tps,
        100.0 * auto.rate / raw_tps
    )?;
    writeln!(
        report,
        "| events published to RabbitMQ per second by both outbox relays in the same window (ratio to pgbench just before) | {:.0} ({:.0}%) |",
        auto.published_rate,
        100.0 * auto.published_rate / auto.raw_tps
    )?;
    writeln!(
        report,
        "| events written but not yet published at the window's end | {} |",
        auto.unpublished
    )?;
    writeln!(
        report,
        "| machine CPU busy while dispatchers assign | {:.0}% |",
        auto.busy
    )?;
    writeln!(
        report,
        "| live state rebuilt from Postgres: {preload} waiting tickets, s | {rebuild_secs:.2} |"
    )?;
    let (secs, waiting, held, agents) = auto.rebuild;
    writeln!(
        report,
        "| live state rebuilt from Postgres before the auto-accept run: {waiting} waiting and {held} held tickets, {agents} agents, s | {secs:.2} |"
    )?;
    writeln!(
        report,
        "| `intake.ticket.created` published → offer committed at {offer_rate}/s ({} tickets) p50 / p99 ms (target p99 ≤ 100) | {:.1} / {:.1} |",
        to_offer.len(),
        pct(&to_offer, 0.5),
        pct(&to_offer, 0.99)
    )?;
    writeln!(
        report,
        "| … the same for tickets published after the first second ({}) p50 / p99 ms | {:.1} / {:.1} |",
        steady.len(),
        pct(&steady, 0.5),
        pct(&steady, 0.99)
    )?;
    writeln!(
        report,
        "| … → `routing.ticket.offered` received by a subscriber p50 / p99 ms | {:.1} / {:.1} |",
        pct(&to_event, 0.5),
        pct(&to_event, 0.99)
    )?;
    writeln!(report, "| machine CPU busy during the offer run | {offer_busy:.0}% |")?;
    Ok(())
}

/// `n` waiting web tickets written straight into routing's Postgres for the bench's own queue,
/// then the live state rebuilt from it; seconds the rebuild took.
async fn preload_bench_queue(stack: &Stack, client: &reqwest::Client, url: &str, n: i64) -> anyhow::Result<f64> {
    {
        let mut db = sqlx::PgConnection::connect(&stack.database_url("routing")).await?;
        sqlx::query(
            "INSERT INTO queue_entry (ticket_id, customer_id, queue, channel, priority, status, score, enqueued_at, tier) \
             SELECT gen_random_uuid(), gen_random_uuid(), 'bench', 'web', 'normal', 'waiting', \
                    extract(epoch FROM now()) * 1000 + g, now(), 'junior' FROM generate_series(1, $1) g",
        )
        .bind(n)
        .execute(&mut db)
        .await?;
    }
    let started = Instant::now();
    let res = client
        .post(format!("{url}/v1/admin/rebuild"))
        .bearer_auth(token(Uuid::new_v4(), Role::Admin))
        .send()
        .await?;
    anyhow::ensure!(res.status() == 200, "rebuild: {}", res.text().await?);
    Ok(started.elapsed().as_secs_f64())
}

/// Defines `n` online agents through routing, with `web` capacity `capacity`; their ids.
async fn routing_agents(
    client: &reqwest::Client,
    url: &str,
    n: usize,
    skills: &[&str],
    capacity: u32,
) -> anyhow::Result<Vec<Uuid>> {
    let supervisor = token(Uuid::new_v4(), Role::Supervisor);
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let id = Uuid::new_v4();
        let res = client
            .put(format!("{url}/v1/agents/{id}"))
            .bearer_auth(&supervisor)
            .json(
                &json!({"display_name": format!("bench agent {i}"), "tier": "junior", "skills": skills,
                          "capacity": {"web": capacity}}),
            )
            .send()
            .await?;
        anyhow::ensure!(res.status() == 201, "agent: {}", res.text().await?);
        let res = client
            .put(format!("{url}/v1/agents/{id}/presence"))
            .bearer_auth(token(id, Role::Agent))
            .json(&json!({"status": "online"}))
            .send()
            .await?;
        anyhow::ensure!(res.status() == 200, "presence: {}", res.text().await?);
        ids.push(id);
    }
    Ok(ids)
}
