//! What the benchmarks share: the raw figures they are held against (pgbench on a scratch
//! database, a bare RabbitMQ channel and queue), CPU readings, clocks and percentiles.

use std::process::Command;

use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{FieldTable, ShortString};
use serde_json::json;
use uuid::Uuid;

use crate::Args;

/// The machine's CPU time so far from `/proc/stat`, in clock ticks: (busy, busy + idle). Steal
/// time (the host running others) counts as neither.
pub fn cpu_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let at = |i: usize| v.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal
    let busy = at(0) + at(1) + at(2) + at(5) + at(6);
    (busy, busy + at(3) + at(4))
}

/// Share of the machine's CPU busy since `since` (a [`cpu_ticks`] reading), in percent.
pub fn busy_since(since: (u64, u64)) -> f64 {
    let now = cpu_ticks();
    let total = now.1.saturating_sub(since.1).max(1);
    100.0 * now.0.saturating_sub(since.0) as f64 / total as f64
}

/// The `p` quantile (0 to 1) of latencies sorted ascending, by nearest rank; NaN when there are
/// none.
pub fn pct(sorted_ms: &[f64], p: f64) -> f64 {
    if sorted_ms.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted_ms.len() as f64 - 1.0) * p).round() as usize;
    sorted_ms[i.min(sorted_ms.len() - 1)]
}

/// A fresh database migrated with `service`'s own schema (its binary's `migrate`); its URL.
async fn scratch_database(service: &str) -> anyhow::Result<String> {
    let url = testkit::create_database(&format!("bench_raw_{}", service.replace('-', "_"))).await?;
    let prefix = service.to_uppercase().replace('-', "_");
    let status = Command::new(system_tests::bin_dir().join(service))
        .arg("migrate")
        .env(format!("{prefix}__DATABASE__URL"), &url)
        .env(format!("{prefix}__RUNTIME__ENVIRONMENT"), "development")
        .status()?;
    anyhow::ensure!(status.success(), "migrating the scratch database failed");
    Ok(url)
}

/// Runs `script` with pgbench (as many clients as the run, `--seconds` long); transactions/s.
fn pgbench(script: &str, url: &str, args: &Args) -> anyhow::Result<f64> {
    let path = std::env::temp_dir().join(format!("bench-{}.sql", Uuid::new_v4()));
    std::fs::write(&path, script)?;
    let out = Command::new("pgbench")
        .args([
            "-n",
            "-c",
            &args.clients.to_string(),
            "-j",
            "2",
            "-T",
            &args.seconds.to_string(),
            "-f",
        ])
        .arg(&path)
        .arg(url)
        .output()?;
    let _ = std::fs::remove_file(&path);
    anyhow::ensure!(
        out.status.success(),
        "pgbench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.starts_with("tps ="))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no tps in pgbench output: {text}"))
}

/// pgbench on a scratch database migrated with intake's own schema, inserting a ticket row and
/// an outbox row per transaction, as intake does.
pub async fn pgbench_two_inserts(args: &Args) -> anyhow::Result<f64> {
    let url = scratch_database("intake").await?;
    let envelope = json!({"specversion": "1.0", "id": Uuid::now_v7(), "source": "/intake", "type": "intake.ticket.created",
        "time": chrono::Utc::now(), "datacontenttype": "application/json", "dataschema": "urn:edu-support:intake.ticket.created:v1",
        "data": {"ticket_id": Uuid::now_v7(), "customer_id": Uuid::new_v4(), "channel": "web", "subject": "直播课进不去", "priority": "normal", "created_at": chrono::Utc::now()}});
    let script = format!(
        "BEGIN;\n\
         INSERT INTO ticket (id, customer_id, channel, subject, body, status, priority, created_by) VALUES (gen_random_uuid(), gen_random_uuid(), 'web', '直播课进不去', '点击进入教室后页面一直加载，换了浏览器也一样', 'new', 'normal', gen_random_uuid());\n\
         INSERT INTO outbox_event (event_id, event_type, envelope, traceparent) VALUES (gen_random_uuid(), 'intake.ticket.created', '{}', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');\n\
         COMMIT;\n",
        envelope.to_string().replace('\'', "''")
    );
    pgbench(&script, &url, args)
}

/// pgbench on a scratch database migrated with routing's schema: one insert per transaction
/// (a routing-log row), the raw figure assignments are compared with.
pub async fn pgbench_single_insert(args: &Args) -> anyhow::Result<f64> {
    let url = scratch_database("routing").await?;
    pgbench(
        "INSERT INTO routing_log (ticket_id, kind, agent_id, queue) VALUES (gen_random_uuid(), 'assigned', gen_random_uuid(), 'general');\n",
        &url,
        args,
    )
}

/// Declares a durable quorum queue named `prefix.<random>`, as the services' queues are,
/// that expires a minute after its last consumer; its name.
pub async fn quorum_queue(ch: &lapin::Channel, prefix: &str) -> anyhow::Result<String> {
    let queue = format!("{prefix}.{}", Uuid::new_v4().simple());
    let mut args = FieldTable::default();
    args.insert(
        ShortString::from("x-queue-type"),
        lapin::types::AMQPValue::LongString("quorum".into()),
    );
    args.insert(
        ShortString::from("x-expires"),
        lapin::types::AMQPValue::LongLongInt(60_000),
    );
    ch.queue_declare(
        ShortString::from(queue.as_str()),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        args,
    )
    .await?;
    Ok(queue)
}

/// A connection to the local RabbitMQ and a channel on it in confirm mode, as the services
/// publish; the connection is closed by the caller when done.
pub async fn confirmed_channel() -> anyhow::Result<(lapin::Connection, lapin::Channel)> {
    let conn = lapin::Connection::connect(&testkit::amqp_url(), lapin::ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    ch.confirm_select(Default::default()).await?;
    Ok((conn, ch))
}

/// Binds `queue` to `exchange` for `routing_key`.
pub async fn bind(ch: &lapin::Channel, queue: &str, exchange: &str, routing_key: &str) -> anyhow::Result<()> {
    ch.queue_bind(
        ShortString::from(queue),
        ShortString::from(exchange),
        ShortString::from(routing_key),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    Ok(())
}

/// A consumer of `queue` on `ch`, with a server-chosen tag.
pub async fn consume(
    ch: &lapin::Channel,
    queue: &str,
    options: BasicConsumeOptions,
) -> anyhow::Result<lapin::Consumer> {
    Ok(ch
        .basic_consume(
            ShortString::from(queue),
            ShortString::from(""),
            options,
            FieldTable::default(),
        )
        .await?)
}

/// Wall-clock time since the Unix epoch in milliseconds (comparable with timestamps other
/// processes on the machine write).
pub fn epoch_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}
