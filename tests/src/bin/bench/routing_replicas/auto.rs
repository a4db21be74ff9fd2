//! The dispatchers' own assignments: an auto-accept push queue with a backlog, both replicas
//! giving waiting tickets to agents with room.

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::Connection;
use system_tests::Stack;

use super::{preload_bench_queue, routing_agents};
use crate::Args;
use crate::support::{busy_since, cpu_ticks, pgbench_single_insert};

/// What [`auto_assignments`] measured.
pub struct AutoRun {
    /// Assignments written per second.
    pub rate: f64,
    /// Events the outbox relays published per second in the same window.
    pub published_rate: f64,
    /// The machine's CPU busy, %.
    pub busy: f64,
    /// Events written but not yet published at the window's end.
    pub unpublished: i64,
    /// The rebuild before the run: seconds, and the waiting and held entries and agents it
    /// restored.
    pub rebuild: (f64, i64, i64, usize),
    /// pgbench single-insert transactions/s measured just before this step, the baseline the
    /// rate is held against (the machine's speed drifts over a whole run).
    pub raw_tps: f64,
}

/// Assignments by the dispatchers: `bench` becomes an auto-accept push queue with a backlog
/// larger than can be assigned in the run, and more agents come online; the assignments both
/// replicas write in `seconds` (counted in routing's log from half a second after both were
/// told), per second, with how busy the machine was and how many events the outbox relay had
/// still to publish at the end. `bench` is a pull queue again afterwards.
pub async fn auto_assignments(
    stack: &Stack,
    client: &reqwest::Client,
    replicas: &[String; 2],
    supervisor: &str,
    args: &Args,
) -> anyhow::Result<AutoRun> {
    let seconds = args.seconds;
    // The baseline, with the stack idle, before this step's own set-up (whose writes leave
    // Postgres work behind that would slow it).
    let raw_tps = pgbench_single_insert(args).await?;
    // 2,000 more agents with 50 places each (the most an agent may have), and as many more
    // waiting tickets: more than a fast machine assigns in the run, so neither runs out before
    // the window ends.
    const AGENTS: usize = 2_000;
    const PLACES: u32 = 50;
    let places = (AGENTS * PLACES as usize) as i64;
    let _assignees = routing_agents(client, &replicas[0], AGENTS, &[], PLACES).await?;
    let rebuild_secs = preload_bench_queue(stack, client, &replicas[0], places).await?;
    let mut db = sqlx::PgConnection::connect(&stack.database_url("routing")).await?;
    let (waiting_then, held_then): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'waiting'), count(*) FILTER (WHERE status IN ('offered', 'assigned')) \
         FROM queue_entry",
    )
    .fetch_one(&mut db)
    .await?;
    let agents_then: i64 = sqlx::query_scalar("SELECT count(*) FROM agent")
        .fetch_one(&mut db)
        .await?;
    let assigned = async |db: &mut sqlx::PgConnection| -> anyhow::Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT count(*) FROM routing_log WHERE kind = 'assigned' AND detail->>'how' = 'auto'")
                .fetch_one(db)
                .await?,
        )
    };
    // Sent to both replicas, so that each reloads its queues at once.
    let set_queue = async |push: bool| -> anyhow::Result<()> {
        for url in replicas {
            let res = client
                .put(format!("{url}/v1/queues/bench"))
                .bearer_auth(supervisor)
                .json(&json!({"description": "Bench", "tier": "junior", "push": push, "auto_accept": push}))
                .send()
                .await?;
            anyhow::ensure!(res.status().is_success(), "queue: {}", res.text().await?);
        }
        Ok(())
    };
    set_queue(true).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let published = async |db: &mut sqlx::PgConnection| -> anyhow::Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT count(*) FROM outbox_event WHERE published_at IS NOT NULL")
                .fetch_one(db)
                .await?,
        )
    };
    let before = assigned(&mut db).await?;
    let published_before = published(&mut db).await?;
    eprintln!("      bench is an auto-accept queue; the dispatchers assign for {seconds}s...");
    let cpu = cpu_ticks();
    let run = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let after = assigned(&mut db).await?;
    let published_after = published(&mut db).await?;
    let elapsed = run.elapsed().as_secs_f64();
    let busy = busy_since(cpu);
    // Whether the outbox relay kept up: events written but not yet published to RabbitMQ.
    let unpublished: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox_event WHERE published_at IS NULL")
        .fetch_one(&mut db)
        .await?;
    set_queue(false).await?;
    let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM queue_entry WHERE status = 'waiting'")
        .fetch_one(&mut db)
        .await?;
    anyhow::ensure!(
        waiting > 0,
        "the backlog ran out during the run: the figure would be low"
    );
    // Every auto-accept assignment so far (the pulling agents' places besides): the new agents
    // must still have had room at the window's end.
    anyhow::ensure!(
        after < places,
        "the agents' places ran out during the run ({after} of {places}): the figure would be low"
    );
    eprintln!(
        "      dispatchers assigned {} tickets in {elapsed:.1}s ({before} before the window); {waiting} still waiting; \
         {unpublished} events not yet published at the window's end",
        after - before
    );
    Ok(AutoRun {
        rate: (after - before) as f64 / elapsed,
        published_rate: (published_after - published_before) as f64 / elapsed,
        busy,
        unpublished,
        rebuild: (rebuild_secs, waiting_then, held_then, agents_then as usize),
        raw_tps,
    })
}
