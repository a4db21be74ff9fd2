//! The live-queue write (routing's `LiveQueues::enqueue` on Redis) vs redis-benchmark's ZADD.

use std::fmt::Write as _;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use uuid::Uuid;

use crate::Args;

/// Measures both with `--clients` tasks or clients; writes its table.
pub async fn run(args: &Args, report: &mut String) -> anyhow::Result<()> {
    let (ours, raw) = enqueue_vs_zadd(args).await?;
    writeln!(
        report,
        "\n## Live-queue write (ZADD NX + SADD, pipelined in one round trip)\n"
    )?;
    writeln!(report, "| measure | ops/s |\n|---|---|")?;
    writeln!(
        report,
        "| routing `LiveQueues::enqueue`, {} tasks | {ours:.0} |",
        args.clients
    )?;
    writeln!(report, "| redis-benchmark ZADD, {} clients | {raw:.0} |", args.clients)?;
    writeln!(report, "| ratio | {:.0}% |", 100.0 * ours / raw)?;
    Ok(())
}

/// Routing's live-queue write (`LiveQueues::enqueue`: HSET + ZADD NX + SADD in one atomic pipeline)
/// from many tasks, vs redis-benchmark's ZADD with as many clients.
async fn enqueue_vs_zadd(args: &Args) -> anyhow::Result<(f64, f64)> {
    let client = redis::Client::open(testkit::redis_url())?;
    let conn = redis::aio::ConnectionManager::new(client).await?;
    let prefix = format!("bench:{}", Uuid::new_v4().simple());
    let live = routing::adapters::live::LiveQueues::new(platform::kv::Redis {
        conn: conn.clone(),
        keys: platform::kv::Keys::new(&prefix, "routing"),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for t in 0..args.clients {
        let (live, stop) = (live.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            let queue = format!("q{}", t % 4);
            while !stop.load(Ordering::Relaxed) {
                let ticket = routing::adapters::live::LiveTicket {
                    ticket_id: Uuid::new_v4().into(),
                    customer_id: None,
                    queue: queue.clone(),
                    score: n as f64,
                    channel: "chat".into(),
                    tier: "junior".into(),
                    skill: None,
                    language: None,
                    enqueued_ms: n as i64,
                    tried: Vec::new(),
                };
                if live.enqueue(&ticket).await.is_ok() {
                    n += 1;
                }
            }
            n
        }));
    }
    let secs = args.seconds.min(5);
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for t in tasks {
        total += t.await?;
    }
    let mut c = conn.clone();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut c)
        .await?;
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(keys).query_async(&mut c).await?;
    }
    let out = Command::new("redis-benchmark")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            "6379",
            "-t",
            "zadd",
            "-n",
            "200000",
            "-c",
            &args.clients.to_string(),
            "-q",
        ])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let raw = text
        .split(['\r', '\n'])
        .rfind(|l| l.contains("requests per second"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no figure in redis-benchmark output: {text}"))?;
    Ok((total as f64 / secs as f64, raw))
}
