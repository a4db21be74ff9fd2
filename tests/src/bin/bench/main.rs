//! `make bench`: the platform's benchmarks on release builds, each beside the raw figure of
//! what it stands on, measured in the same run (absolute figures drift on shared machines;
//! the ratios are what to compare).
//!
//! 1. Ticket creation through intake (HTTP, validation, classification, duplicate check,
//!    knowledge-base match, ticket + outbox insert in one transaction) vs pgbench doing the
//!    same two inserts per transaction on the same schema; then request latency at half the
//!    measured rate.
//! 2. Ticket → inbox latency (intake → routing → notifications, two broker hops and three
//!    transactions) at a steady rate vs one bare RabbitMQ publish → consume hop.
//! 3. The live-queue write (Redis ZADD) vs redis-benchmark's ZADD.
//! 4. Idle memory (RSS) of each service.
//! 5. The quality report over 1,000,000 tickets vs the same figures computed by one SQL pass
//!    over the tickets.
//! 6. Routing with two replicas: assignments per second vs pgbench single-insert transactions;
//!    the live state rebuilt from Postgres; `intake.ticket.created` published → offer latency
//!    at 500 tickets/s.
//! 7. Notifications, one instance: deliveries per second into the in-app inbox and into an
//!    HTTP webhook sink (signed), from a backlog, vs bare RabbitMQ publish + consume of as many
//!    messages; event published → inbox delivery latency at 1,000 events/s.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{FieldTable, ShortString};
use platform::auth::Role;
use serde_json::json;
use sqlx::Connection;
use system_tests::{Stack, token};
use uuid::Uuid;

#[derive(Parser)]
#[command(about = "Platform benchmarks (run through `make bench`)")]
struct Args {
    /// Seconds each throughput run lasts.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent clients for throughput runs (HTTP clients and pgbench clients alike).
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Tickets per second for the latency run.
    #[arg(long, default_value_t = 100)]
    rate: u64,
    /// Tickets generated for the quality-report benchmark.
    #[arg(long, default_value_t = 1_000_000)]
    report_tickets: u64,
    /// Run only these benchmarks (comma-separated): memory, create, inbox, queue, report,
    /// routing, notify.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Where the Markdown report is written as well as printed.
    #[arg(long, default_value = "target/bench/report.md")]
    report: String,
}

impl Args {
    fn wants(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == name)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut report = String::new();
    writeln!(report, "# Benchmarks\n")?;
    writeln!(
        report,
        "Machine: {} cores; every server local. Runs of {} s with {} clients.\n",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        args.seconds,
        args.clients
    )?;
    eprintln!("starting the five services (release build)...");
    let mut stack = Stack::start_with(
        &[("TELEMETRY__LEVEL", "warn"), ("DATABASE__MAX_CONNECTIONS", "20")],
        // The routing run's agents neither send heartbeats nor answer offers.
        &[
            ("routing", "SERVICE__PRESENCE_TTL_SECS", "3600"),
            ("routing", "SERVICE__OFFER_TIMEOUT_SECS", "3600"),
            // Twelve connections each, all kept open (see routing's `min_connections`).
            ("routing", "DATABASE__MAX_CONNECTIONS", "12"),
            ("routing", "DATABASE__MIN_CONNECTIONS", "12"),
            // The webhook sink is local: no need to spare it.
            ("notifications", "SERVICE__WEBHOOK__RATE_PER_SEC", "1000000"),
        ],
    )
    .await?;

    if args.wants("memory") {
        eprintln!("[1/7] idle memory...");
        tokio::time::sleep(Duration::from_secs(3)).await;
        writeln!(
            report,
            "## Idle memory (RSS), target ≤ 30 MB\n\n| service | RSS MB |\n|---|---|"
        )?;
        for s in &stack.services {
            let rss = s.pid().and_then(rss_mb).unwrap_or(f64::NAN);
            writeln!(report, "| {} | {rss:.1} |", s.name)?;
        }
    }

    if args.wants("create") {
        eprintln!("[2/7] ticket creation throughput: pgbench, then intake...");
        let raw_tps = pgbench_two_inserts(&stack, &args).await?;
        seed_knowledge_base(&stack).await?;
        // Intake alone: routing and notifications wait (their queues keep the events), so the
        // figure is intake's, not the whole pipeline's sharing two cores.
        stack.service("routing").stop().await?;
        stack.service("notifications").stop().await?;
        // Like for like with pgbench: the ticket and its outbox row (no Idempotency-Key); then
        // with a key on every request (a third row per ticket, as careful API clients send).
        let (tickets, lat) = create_tickets(&stack, &args, false).await?;
        let tps = tickets as f64 / args.seconds as f64;
        let (keyed, keyed_lat) = create_tickets(&stack, &args, true).await?;
        let keyed_tps = keyed as f64 / args.seconds as f64;
        let half = (tps / 2.0).max(1.0) as u64;
        eprintln!(
            "      {tickets} + {keyed} tickets created; request latency at half the first rate ({half} tickets/s)..."
        );
        let paced = paced_creates(&stack, half, args.seconds).await?;
        eprintln!("      restarting routing and notifications to drain the backlog...");
        let backlog: i64 = {
            let db = stack.database_url("intake");
            let mut c = sqlx::PgConnection::connect(&db).await?;
            sqlx::query_scalar("SELECT count(*) FROM ticket WHERE status <> 'auto_answered'")
                .fetch_one(&mut c)
                .await?
        };
        let catch_up = Instant::now();
        stack.service("routing").restart().await?;
        stack.service("notifications").restart().await?;
        let drained = wait_drained(&stack).await?;
        let pipeline = backlog as f64 / drained.duration_since(catch_up).as_secs_f64();
        writeln!(
            report,
            "\n## Ticket creation (HTTP, validation, classification, duplicate check, knowledge-base match, ticket and outbox rows in one transaction; {} labelled tickets cycled, one customer per request; routing and notifications paused)\n",
            dataset().len()
        )?;
        writeln!(report, "| measure | value |\n|---|---|")?;
        writeln!(report, "| intake tickets/s ({} clients) | {tps:.0} |", args.clients)?;
        writeln!(
            report,
            "| raw PostgreSQL, same two inserts per transaction (pgbench) tx/s | {raw_tps:.0} |"
        )?;
        writeln!(report, "| ratio (target ≥ 50%) | {:.0}% |", 100.0 * tps / raw_tps)?;
        writeln!(
            report,
            "| request latency at full load p50 / p99 ms | {:.1} / {:.1} |",
            pct(&lat, 0.50),
            pct(&lat, 0.99)
        )?;
        writeln!(
            report,
            "| with an Idempotency-Key on every request (its row is a third insert): tickets/s, ratio, p99 ms | {keyed_tps:.0}, {:.0}%, {:.1} |",
            100.0 * keyed_tps / raw_tps,
            pct(&keyed_lat, 0.99)
        )?;
        writeln!(
            report,
            "| request latency at half that rate ({half}/s, {} tickets) p50 / p99 ms (target p99 ≤ 50) | {:.1} / {:.1} |",
            paced.len(),
            pct(&paced, 0.50),
            pct(&paced, 0.99)
        )?;
        writeln!(
            report,
            "| routing + notifications catching up on the backlog ({backlog} tickets for people) into inboxes, tickets/s | {pipeline:.0} |"
        )?;
    }

    if args.wants("inbox") {
        eprintln!(
            "[3/7] ticket → inbox latency at {} tickets/s, then a bare broker hop...",
            args.rate
        );
        let e2e = ticket_to_inbox(&stack, &args).await?;
        let hop = bare_hop(&stack, args.rate, args.seconds).await?;
        writeln!(
            report,
            "\n## Ticket → inbox (intake → routing → notifications) at {} tickets/s\n",
            args.rate
        )?;
        writeln!(report, "| measure | p50 ms | p99 ms |\n|---|---|---|")?;
        writeln!(
            report,
            "| ticket committed → inbox delivery committed ({} tickets) | {:.1} | {:.1} |",
            e2e.len(),
            pct(&e2e, 0.5),
            pct(&e2e, 0.99)
        )?;
        writeln!(
            report,
            "| bare RabbitMQ publish (confirmed) → consume, one hop | {:.2} | {:.2} |",
            pct(&hop, 0.5),
            pct(&hop, 0.99)
        )?;
    }

    if args.wants("queue") {
        eprintln!("[4/7] live-queue writes: Redis ZADD vs redis-benchmark...");
        let (ours, raw) = redis_zadd(&args).await?;
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
    }

    if args.wants("report") {
        eprintln!("[5/7] quality report over {} tickets...", args.report_tickets);
        quality_report(&mut stack, &args, &mut report).await?;
    }

    if args.wants("routing") {
        eprintln!("[6/7] routing with two replicas: pgbench single inserts, assignments, created → offer...");
        routing_bench(&mut stack, &args, &mut report).await?;
    }

    if args.wants("notify") {
        eprintln!(
            "[7/7] notifications: inbox and webhook deliveries/s, bare RabbitMQ, published → inbox at 1,000/s..."
        );
        notify_bench(&mut stack, &args, &mut report).await?;
    }

    stack.stop().await?;
    if let Some(dir) = std::path::Path::new(&args.report).parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.report, &report)?;
    #[allow(clippy::print_stdout)]
    {
        println!("{report}");
    }
    eprintln!("report written to {}", args.report);
    Ok(())
}

fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The machine's CPU time so far from `/proc/stat`, in clock ticks: (busy, busy + idle). Steal
/// time (the host running others) counts as neither.
fn cpu_ticks() -> (u64, u64) {
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
fn busy_since(since: (u64, u64)) -> f64 {
    let now = cpu_ticks();
    let total = now.1.saturating_sub(since.1).max(1);
    100.0 * now.0.saturating_sub(since.0) as f64 / total as f64
}

fn pct(sorted_ms: &[f64], p: f64) -> f64 {
    if sorted_ms.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted_ms.len() as f64 - 1.0) * p).round() as usize;
    sorted_ms[i.min(sorted_ms.len() - 1)]
}

/// pgbench on a scratch database migrated with intake's own schema, inserting a ticket row and
/// an outbox row per transaction, as intake does.
async fn pgbench_two_inserts(stack: &Stack, args: &Args) -> anyhow::Result<f64> {
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
    let _ = stack;
    pgbench(&script, &url, args)
}

/// `clients` tasks opening tickets as fast as they can for `seconds`.
async fn create_tickets(stack: &Stack, args: &Args, with_keys: bool) -> anyhow::Result<(usize, Vec<f64>)> {
    let url = format!("{}/v1/tickets", stack.url("intake"));
    let stop = Arc::new(AtomicBool::new(false));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let mut tasks = Vec::new();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..args.clients {
        let (url, client, stop, next) = (url.clone(), client.clone(), stop.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let body = ticket_body(next.fetch_add(1, Ordering::Relaxed));
                let tok = token(Uuid::new_v4(), Role::Customer);
                let t = Instant::now();
                let mut req = client.post(&url).bearer_auth(&tok).json(&body);
                if with_keys {
                    req = req.header("Idempotency-Key", Uuid::new_v4().to_string());
                }
                let res = req.send().await;
                if matches!(res, Ok(ref r) if r.status() == 201) {
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                }
            }
            lat
        }));
    }
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    all.sort_by(f64::total_cmp);
    Ok((all.len(), all))
}

/// Waits until every ticket intake stored has reached an inbox; returns when that happened.
async fn wait_drained(stack: &Stack) -> anyhow::Result<Instant> {
    let db = |name: &str| stack.database_url(name);
    let mut intake = sqlx::PgConnection::connect(&db("intake")).await?;
    let mut notif = sqlx::PgConnection::connect(&db("notifications")).await?;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        // Tickets answered from the knowledge base wait for the customer, not for a person:
        // routing holds them and nobody is told "received".
        let tickets: i64 = sqlx::query_scalar("SELECT count(*) FROM ticket WHERE status <> 'auto_answered'")
            .fetch_one(&mut intake)
            .await?;
        let delivered: i64 = sqlx::query_scalar("SELECT count(*) FROM delivery")
            .fetch_one(&mut notif)
            .await?;
        if delivered >= tickets {
            return Ok(Instant::now());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {delivered} of {tickets} tickets reached an inbox after 300 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Tickets at a steady rate, one customer each; latency from the ticket's commit (intake's
/// clock) to the inbox delivery's commit (notifications' clock, the same server).
async fn ticket_to_inbox(stack: &Stack, args: &Args) -> anyhow::Result<Vec<f64>> {
    let intake_db = stack.database_url("intake");
    let notif_db = stack.database_url("notifications");
    let url = format!("{}/v1/tickets", stack.url("intake"));
    let client = reqwest::Client::new();
    let total = args.rate * args.seconds;
    let mut interval = tokio::time::interval(Duration::from_micros(1_000_000 / args.rate.max(1)));
    let mut sent = Vec::new();
    for _ in 0..total {
        interval.tick().await;
        let customer = Uuid::new_v4();
        let (client, url) = (client.clone(), url.clone());
        sent.push((
            customer,
            tokio::spawn(async move {
                client
                    .post(&url)
                    .bearer_auth(token(customer, Role::Customer))
                    .json(&json!({"channel": "chat", "subject": "课程咨询", "body": "请问高级班什么时候开课？"}))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            }),
        ));
    }
    let mut customers = Vec::new();
    for (c, h) in sent {
        if matches!(h.await?, Ok(201)) {
            customers.push(c);
        }
    }
    let mut notif = sqlx::PgConnection::connect(&notif_db).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM delivery WHERE recipient_id = ANY($1)")
            .bind(&customers)
            .fetch_one(&mut notif)
            .await?;
        if n as usize >= customers.len() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut intake = sqlx::PgConnection::connect(&intake_db).await?;
    let created: BTreeMap<Uuid, chrono::DateTime<chrono::Utc>> =
        sqlx::query_as::<_, (Uuid, chrono::DateTime<chrono::Utc>)>(
            "SELECT customer_id, created_at FROM ticket WHERE customer_id = ANY($1)",
        )
        .bind(&customers)
        .fetch_all(&mut intake)
        .await?
        .into_iter()
        .collect();
    let delivered: Vec<(Uuid, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("SELECT recipient_id, created_at FROM delivery WHERE recipient_id = ANY($1)")
            .bind(&customers)
            .fetch_all(&mut notif)
            .await?;
    let mut lat: Vec<f64> = delivered
        .iter()
        .filter_map(|(c, at)| {
            created
                .get(c)
                .map(|t0| (*at - *t0).num_microseconds().unwrap_or(0) as f64 / 1000.0)
        })
        .collect();
    lat.sort_by(f64::total_cmp);
    anyhow::ensure!(
        lat.len() == customers.len(),
        "{} of {} tickets reached the inbox",
        lat.len(),
        customers.len()
    );
    Ok(lat)
}

/// Declares a durable quorum queue named `prefix.<random>`, as the services' queues are,
/// that expires a minute after its last consumer; its name.
async fn quorum_queue(ch: &lapin::Channel, prefix: &str) -> anyhow::Result<String> {
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

/// One confirmed publish → consume hop through a bare queue, at `rate` messages/s.
async fn bare_hop(stack: &Stack, rate: u64, seconds: u64) -> anyhow::Result<Vec<f64>> {
    let _ = stack;
    let conn = lapin::Connection::connect(&testkit::amqp_url(), lapin::ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    ch.confirm_select(Default::default()).await?;
    let queue = quorum_queue(&ch, "bench.hop").await?;
    ch.exchange_declare(
        ShortString::from("bench.hop"),
        lapin::ExchangeKind::Topic,
        lapin::options::ExchangeDeclareOptions {
            auto_delete: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await?;
    ch.queue_bind(
        ShortString::from(queue.as_str()),
        ShortString::from("bench.hop"),
        ShortString::from("#"),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    let consumer_ch = conn.create_channel().await?;
    let mut consumer = consumer_ch
        .basic_consume(
            ShortString::from(queue.as_str()),
            ShortString::from(""),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let total = rate * seconds;
    let receiver = tokio::spawn(async move {
        let mut lat = Vec::new();
        while let Some(Ok(d)) = consumer.next().await {
            let sent_ns: u128 = String::from_utf8_lossy(&d.data).parse().unwrap_or(0);
            let now_ns = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            lat.push(now_ns.saturating_sub(sent_ns) as f64 / 1e6);
            let _ = d.ack(BasicAckOptions::default()).await;
            if lat.len() as u64 >= total {
                break;
            }
        }
        lat
    });
    let mut interval = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    for _ in 0..total {
        interval.tick().await;
        let now_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        ch.basic_publish(
            ShortString::from("bench.hop"),
            ShortString::from("x"),
            Default::default(),
            now_ns.to_string().as_bytes(),
            lapin::BasicProperties::default().with_delivery_mode(2),
        )
        .await?
        .await?;
    }
    let mut lat = tokio::time::timeout(Duration::from_secs(30), receiver).await??;
    lat.sort_by(f64::total_cmp);
    let _ = conn.close(200, ShortString::from("done")).await;
    Ok(lat)
}

/// Routing's live-queue write (`LiveQueues::enqueue`: HSET + ZADD NX + SADD in one atomic pipeline)
/// from many tasks, vs redis-benchmark's ZADD with as many clients.
async fn redis_zadd(args: &Args) -> anyhow::Result<(f64, f64)> {
    let client = redis::Client::open(testkit::redis_url())?;
    let conn = redis::aio::ConnectionManager::new(client).await?;
    let prefix = format!("bench:{}", Uuid::new_v4().simple());
    let live = routing::live::LiveQueues::new(platform::kv::Redis {
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
                let ticket = routing::live::LiveTicket {
                    ticket_id: Uuid::new_v4(),
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

/// The labelled bilingual tickets (subject, body) the classification test uses.
fn dataset() -> &'static [(String, String)] {
    static DATA: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
    DATA.get_or_init(|| {
        include_str!("../../../services/intake/tests/data/labelled_tickets.tsv")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let mut parts = l.split('\t');
                let _category = parts.next()?;
                Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
            })
            .collect()
    })
}

/// The `i`-th request body: the dataset cycled over the self-service channels.
fn ticket_body(i: usize) -> serde_json::Value {
    let data = dataset();
    let (subject, body) = &data[i % data.len()];
    let channel = ["web", "chat", "api"][i % 3];
    json!({"channel": channel, "subject": subject, "body": body})
}

/// A small knowledge base, so each create really searches it (some tickets match).
async fn seed_knowledge_base(stack: &Stack) -> anyhow::Result<()> {
    let agent = token(Uuid::new_v4(), Role::Agent);
    let articles = [
        (
            "忘记密码怎么重置",
            "在登录页点击“忘记密码”，用注册手机号收验证码后设置新密码。",
            "zh-CN",
            "other",
        ),
        (
            "发票怎么开",
            "在“我的订单”里点击“申请发票”，填写抬头和税号即可，3个工作日内发到邮箱。",
            "zh-CN",
            "other",
        ),
        (
            "直播课进不去怎么办",
            "请先刷新页面或重启App，检查网络；仍不行请更换浏览器（推荐Chrome）后重试。",
            "zh-CN",
            "technical",
        ),
        (
            "退费多久到账",
            "退费审核通过后，款项原路退回，一般3-7个工作日到账。",
            "zh-CN",
            "refund",
        ),
        (
            "课程有效期是多久",
            "录播课自购买之日起有效期一年，直播课以班级安排为准。",
            "zh-CN",
            "course_consultation",
        ),
        (
            "How do I reset my password?",
            "On the sign-in page choose Forgot password and follow the code sent to your phone.",
            "en",
            "other",
        ),
        (
            "How do I download my certificate?",
            "Open My Courses, choose the finished course and press Download certificate.",
            "en",
            "course_consultation",
        ),
        (
            "When will my refund arrive?",
            "Approved refunds go back to the original payment method within 3-7 working days.",
            "en",
            "refund",
        ),
    ];
    let client = reqwest::Client::new();
    for (title, body, language, category) in articles {
        let res = client
            .post(format!("{}/v1/kb/articles", stack.url("intake")))
            .bearer_auth(&agent)
            .json(&json!({"title": title, "body": body, "language": language, "category": category}))
            .send()
            .await?;
        anyhow::ensure!(res.status() == 201, "seeding the knowledge base: {}", res.status());
    }
    Ok(())
}

/// Tickets at a steady `rate` for `seconds`; the latency of each create request, sorted.
async fn paced_creates(stack: &Stack, rate: u64, seconds: u64) -> anyhow::Result<Vec<f64>> {
    let url = format!("{}/v1/tickets", stack.url("intake"));
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    let mut interval = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut handles = Vec::new();
    for i in 0..rate * seconds {
        interval.tick().await;
        let (client, url) = (client.clone(), url.clone());
        let body = ticket_body(i as usize + 7);
        handles.push(tokio::spawn(async move {
            let t = Instant::now();
            let res = client
                .post(&url)
                .bearer_auth(token(Uuid::new_v4(), Role::Customer))
                .json(&body)
                .send()
                .await;
            matches!(res, Ok(ref r) if r.status().is_success()).then(|| t.elapsed().as_secs_f64() * 1000.0)
        }));
    }
    let mut lat = Vec::new();
    for h in handles {
        lat.extend(h.await?);
    }
    lat.sort_by(f64::total_cmp);
    Ok(lat)
}

/// Fills intake's database with `report_tickets` tickets over the last 30 days (with surveys),
/// lets intake build its rollups, then times the report API over the period, whole days and
/// arbitrary edges, for each grouping, against one SQL pass computing the same figures.
async fn quality_report(stack: &mut Stack, args: &Args, report: &mut String) -> anyhow::Result<()> {
    let db = stack.database_url("intake");
    let mut conn = sqlx::PgConnection::connect(&db).await?;
    let started = Instant::now();
    let n = i64::try_from(args.report_tickets)?;
    // Spread evenly over 30 days; realistic shares of channels, categories, outcomes.
    let step = 30.0 * 86400.0 / n as f64;
    sqlx::query(
        "INSERT INTO ticket (id, customer_id, channel, subject, body, status, priority, category, language, keywords, \
                             high_emotion, created_by, created_at, updated_at, first_response_at, resolved_at, \
                             reopen_count, customer_role, assignee_id, resolved_by, deflected, resolve_by) \
         SELECT gen_random_uuid(), gen_random_uuid(), (ARRAY['web','chat','email','phone','walk_in','api'])[1 + (i % 6)], \
                'subject ' || i, 'body', \
                CASE WHEN i % 10 < 7 THEN 'closed' WHEN i % 10 < 9 THEN 'resolved' ELSE 'queued' END, 'normal', \
                (ARRAY['course_consultation','technical','learning_progress','refund','complaint','course_suggestion', \
                       'resource_request','other'])[1 + (i % 8)], 'zh-CN', \
                ARRAY[(ARRAY['直播','退费','作业','课程','登录','价格','证书','老师','网络','密码'])[1 + (i % 10)], \
                      (ARRAY['进不去','多少钱','批改','报名','卡顿'])[1 + (i % 5)], 'w' || (i % 97)], \
                i % 20 = 0, gen_random_uuid(), ts, ts, \
                CASE WHEN i % 10 < 9 AND i % 7 <> 0 THEN ts + make_interval(secs => (i % 600)) END, \
                CASE WHEN i % 10 < 9 THEN ts + make_interval(secs => 600 + (i % 86400)) END, \
                CASE WHEN i % 25 = 0 THEN 1 ELSE 0 END, \
                (ARRAY['student','parent','teacher','institution'])[1 + (i % 4)], \
                ('00000000-0000-0000-0000-' || lpad((i % 40)::text, 12, '0'))::uuid, \
                CASE WHEN i % 10 < 9 THEN ('00000000-0000-0000-0000-' || lpad((i % 40)::text, 12, '0'))::uuid END, \
                i % 7 = 0, CASE WHEN i % 8 IN (4, 5) THEN ts + interval '48 hours' END \
         FROM (SELECT i, now() - make_interval(secs => i * $2) AS ts FROM generate_series(1, $1::bigint) AS i) g",
    )
    .bind(n)
    .bind(step)
    .execute(&mut conn)
    .await?;
    sqlx::query(
        "INSERT INTO survey (ticket_id, customer_id, requested_at, expires_at, score, answered_at) \
         SELECT id, customer_id, resolved_at, resolved_at + interval '14 days', \
                CASE WHEN r < 0.6 THEN 3 + floor(r * 5)::int % 3 END, CASE WHEN r < 0.6 THEN resolved_at END \
         FROM (SELECT id, customer_id, resolved_at, random() AS r FROM ticket WHERE resolved_at IS NOT NULL) t \
         ON CONFLICT DO NOTHING",
    )
    .execute(&mut conn)
    .await?;
    sqlx::query("VACUUM ANALYZE ticket").execute(&mut conn).await?;
    sqlx::query("VACUUM ANALYZE survey").execute(&mut conn).await?;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM ticket")
        .fetch_one(&mut conn)
        .await?;
    eprintln!(
        "      {total} tickets in {:.0} s; intake builds its rollups...",
        started.elapsed().as_secs_f64()
    );

    // A restart builds the rollups of every day without one.
    stack.service("intake").stop().await?;
    let fresh_before: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT fresh_until FROM report_rollup_state")
            .fetch_optional(&mut conn)
            .await?;
    let rolling = Instant::now();
    stack.service("intake").restart().await?;
    let days: i64 = sqlx::query_scalar("SELECT count(DISTINCT (created_at AT TIME ZONE 'UTC')::date) FROM ticket")
        .fetch_one(&mut conn)
        .await?;
    // Ready when the first pass after the restart (the backfill) has finished: it moves the
    // freshness mark.
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let done: i64 = sqlx::query_scalar("SELECT count(*) FROM report_rollup WHERE dim = 'all' AND hour = -1")
            .fetch_one(&mut conn)
            .await?;
        let fresh: Option<chrono::DateTime<chrono::Utc>> =
            sqlx::query_scalar("SELECT fresh_until FROM report_rollup_state")
                .fetch_optional(&mut conn)
                .await?;
        if done >= days && fresh.is_some() && fresh != fresh_before {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "rollups: {done} of {days} days after 600 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let rollup_secs = rolling.elapsed().as_secs_f64();

    let supervisor = token(Uuid::new_v4(), Role::Supervisor);
    let client = reqwest::Client::new();
    let now = chrono::Utc::now();
    let midnight = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now);
    let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let windows = [
        (
            "last 30 days up to now (partial days at both edges)",
            fmt(now - chrono::Duration::days(30)),
            fmt(now),
        ),
        (
            "30 whole days",
            fmt(midnight - chrono::Duration::days(30)),
            fmt(midnight),
        ),
    ];
    writeln!(
        report,
        "\n## Quality report over {total} tickets (30 days), target ≤ 200 ms\n"
    )?;
    writeln!(
        report,
        "Rollups for {days} days built in {rollup_secs:.1} s after a restart.\n"
    )?;
    writeln!(
        report,
        "| period | group by | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|"
    )?;
    for (label, from, to) in &windows {
        for group in ["all", "channel", "category", "agent", "customer_role"] {
            let url = format!(
                "{}/v1/reports/quality?from={from}&to={to}&group_by={group}",
                stack.url("intake")
            );
            let mut lat = Vec::new();
            for _ in 0..20 {
                let t = Instant::now();
                let res = client.get(&url).bearer_auth(&supervisor).send().await?;
                anyhow::ensure!(res.status() == 200, "report: {}", res.status());
                let _ = res.bytes().await?;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            lat.sort_by(f64::total_cmp);
            writeln!(
                report,
                "| {label} | {group} | {:.1} | {:.1} | {:.1} |",
                pct(&lat, 0.5),
                pct(&lat, 0.99),
                lat.last().copied().unwrap_or(f64::NAN)
            )?;
        }
    }
    // The raw figure: the same figures straight from the tickets in one SQL pass.
    let mut raw = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        sqlx::query(
            "SELECT t.category, count(*), \
               percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t.first_response_at - t.created_at)), \
               percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM t.first_response_at - t.created_at)), \
               count(*) FILTER (WHERE t.first_response_at <= t.created_at + interval '5 minutes'), \
               percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t.resolved_at - t.created_at)), \
               count(t.resolved_at), avg(s.score), count(s.score), count(*) FILTER (WHERE t.deflected), \
               count(*) FILTER (WHERE t.reopen_count > 0) \
             FROM ticket t LEFT JOIN survey s ON s.ticket_id = t.id \
             WHERE t.created_at >= $1 AND t.created_at < $2 GROUP BY 1",
        )
        .bind(now - chrono::Duration::days(30))
        .bind(now)
        .fetch_all(&mut conn)
        .await?;
        raw.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    raw.sort_by(f64::total_cmp);
    writeln!(
        report,
        "| raw: one SQL pass over the tickets (percentile_cont), by category | category | {:.0} | - | {:.0} |",
        pct(&raw, 0.5),
        raw.last().copied().unwrap_or(f64::NAN)
    )?;
    Ok(())
}

/// A fresh database migrated with `service`'s own schema (its binary's `migrate`); its URL.
async fn scratch_database(service: &str) -> anyhow::Result<String> {
    let url = testkit::create_database(&format!("bench_raw_{}", service.replace('-', "_"))).await?;
    let prefix = service.to_uppercase().replace('-', "_");
    let status = Command::new(system_tests::bin_dir().join(service))
        .arg("migrate")
        .env(format!("{prefix}__DATABASE__URL"), &url)
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

/// pgbench on a scratch database migrated with routing's schema: one insert per transaction
/// (a routing-log row), the raw figure assignments are compared with.
async fn pgbench_single_insert(args: &Args) -> anyhow::Result<f64> {
    let url = scratch_database("routing").await?;
    pgbench(
        "INSERT INTO routing_log (ticket_id, kind, agent_id, queue) VALUES (gen_random_uuid(), 'assigned', gen_random_uuid(), 'general');\n",
        &url,
        args,
    )
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

/// What [`auto_assignments`] measured.
struct AutoRun {
    /// Assignments written per second.
    rate: f64,
    /// Events the outbox relays published per second in the same window.
    published_rate: f64,
    /// The machine's CPU busy, %.
    busy: f64,
    /// Events written but not yet published at the window's end.
    unpublished: i64,
    /// The rebuild before the run: seconds, and the waiting and held entries and agents it
    /// restored.
    rebuild: (f64, i64, i64, usize),
    /// pgbench single-insert transactions/s measured just before this step, the baseline the
    /// rate is held against (the machine's speed drifts over a whole run).
    raw_tps: f64,
}

/// Assignments by the dispatchers: `bench` becomes an auto-accept push queue with a backlog
/// larger than can be assigned in the run, and more agents come online; the assignments both
/// replicas write in `seconds` (counted in routing's log from half a second after both were
/// told), per second, with how busy the machine was and how many events the outbox relay had
/// still to publish at the end. `bench` is a pull queue again afterwards.
async fn auto_assignments(
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

/// Routing with two replicas: assignments per second (agents asking for their next ticket,
/// alternating replicas) vs pgbench single-insert transactions; the live state rebuilt from
/// Postgres; and `intake.ticket.created` published → offer at a steady rate.
async fn routing_bench(stack: &mut Stack, args: &Args, report: &mut String) -> anyhow::Result<()> {
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
                i += args_clients_step(c);
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
    let (to_offer, to_event, steady) = created_to_offer(stack, offer_rate, args.seconds).await?;
    let offer_busy = busy_since(cpu);
    // Last, as its tens of thousands of events keep RabbitMQ busy for a while.
    let auto = auto_assignments(stack, &client, &replicas, &supervisor, args).await?;
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

fn args_clients_step(_c: usize) -> usize {
    // Each client walks the agent list with a stride, so clients rarely ask for the same agent.
    97
}

fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// Publishes `intake.ticket.created` (technical, web) at `rate`/s for `seconds`; latencies from
/// each publish to its offer's `offered_at`, and to the `routing.ticket.offered` event arriving.
/// Latencies (ms, sorted) from `intake.ticket.created` published to the offer committed and to
/// `routing.ticket.offered` received, and the first of them again for tickets published after
/// the first second (steady state: pools and caches warm).
async fn created_to_offer(stack: &Stack, rate: u64, seconds: u64) -> anyhow::Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    use contracts::intake::TicketCreatedV1;
    use contracts::routing::TicketOfferedV1;
    let exchange = stack
        .services
        .iter()
        .find(|s| s.name == "routing")
        .and_then(|s| s.setting("BUS__EXCHANGE"))
        .ok_or_else(|| anyhow::anyhow!("no exchange"))?
        .to_owned();
    let conn = lapin::Connection::connect(&testkit::amqp_url(), lapin::ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    ch.confirm_select(Default::default()).await?;
    let queue = format!("bench.offered.{}", Uuid::new_v4().simple());
    ch.queue_declare(
        ShortString::from(queue.as_str()),
        QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await?;
    ch.queue_bind(
        ShortString::from(queue.as_str()),
        ShortString::from(exchange.as_str()),
        ShortString::from("routing.ticket.offered"),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    let mut consumer = ch
        .basic_consume(
            ShortString::from(queue.as_str()),
            ShortString::from(""),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    let sent: Arc<std::sync::Mutex<std::collections::HashMap<Uuid, f64>>> = Arc::default();
    let total = rate * seconds;
    let receiver = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let (mut to_offer, mut to_event) = (Vec::new(), Vec::new());
            let mut steady = Vec::new();
            while let Ok(Some(Ok(d))) = tokio::time::timeout(Duration::from_secs(15), consumer.next()).await {
                let arrived = now_ms();
                let Ok(env) = serde_json::from_slice::<contracts::EventEnvelope<TicketOfferedV1>>(&d.data) else {
                    continue;
                };
                let published = sent.lock().ok().and_then(|m| m.get(&env.data.ticket_id).copied());
                if let Some(p) = published {
                    to_offer.push(env.data.offered_at.timestamp_micros() as f64 / 1000.0 - p);
                    to_event.push(arrived - p);
                    steady.push((p, env.data.offered_at.timestamp_micros() as f64 / 1000.0 - p));
                }
                if to_event.len() as u64 >= total {
                    break;
                }
            }
            let first = steady.iter().map(|s| s.0).fold(f64::INFINITY, f64::min);
            let steady: Vec<f64> = steady
                .into_iter()
                .filter(|s| s.0 >= first + 1000.0)
                .map(|s| s.1)
                .collect();
            (to_offer, to_event, steady)
        })
    };
    let mut interval = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    for i in 0..total {
        interval.tick().await;
        let env = contracts::EventEnvelope::new(
            "intake",
            TicketCreatedV1 {
                ticket_id: Uuid::now_v7(),
                customer_id: Uuid::new_v4(),
                channel: contracts::vocabulary::Channel::Web,
                subject: format!("直播课进不去 {i}"),
                priority: contracts::vocabulary::Priority::Normal,
                category: Some("technical".into()),
                language: Some("zh-CN".into()),
                details: Default::default(),
                created_at: chrono::Utc::now(),
            },
        );
        let body = serde_json::to_vec(&env)?;
        if let Ok(mut m) = sent.lock() {
            m.insert(env.data.ticket_id, now_ms());
        }
        ch.basic_publish(
            ShortString::from(exchange.as_str()),
            ShortString::from("intake.ticket.created"),
            Default::default(),
            &body,
            lapin::BasicProperties::default()
                .with_delivery_mode(2)
                .with_content_type(ShortString::from("application/cloudevents+json")),
        )
        .await?;
    }
    let (mut to_offer, mut to_event, mut steady) = receiver.await?;
    to_offer.sort_by(f64::total_cmp);
    to_event.sort_by(f64::total_cmp);
    steady.sort_by(f64::total_cmp);
    let _ = conn.close(200, ShortString::from("done")).await;
    Ok((to_offer, to_event, steady))
}

fn epoch_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// A CloudEvents envelope of `event_type` with `data`, as producers write them.
fn envelope(id: Uuid, event_type: &str, data: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"specversion": "1.0", "id": id, "source": "/bench", "type": event_type,
        "time": chrono::Utc::now(), "datacontenttype": "application/json",
        "dataschema": format!("urn:edu-support:{event_type}:v1"), "data": data}),
    )
    .unwrap_or_default()
}

fn queued(customer: Uuid) -> serde_json::Value {
    json!({"ticket_id": Uuid::now_v7(), "customer_id": customer, "queue": "general", "channel": "web",
           "priority": "normal", "queued_at": chrono::Utc::now()})
}

/// Publishes `bodies` to the exchange as fast as confirms allow (pipelined in chunks).
async fn publish_all(ch: &lapin::Channel, exchange: &str, routing_key: &str, bodies: &[Vec<u8>]) -> anyhow::Result<()> {
    for chunk in bodies.chunks(500) {
        let mut confirms = Vec::with_capacity(chunk.len());
        for b in chunk {
            confirms.push(
                ch.basic_publish(
                    ShortString::from(exchange),
                    ShortString::from(routing_key),
                    Default::default(),
                    b,
                    lapin::BasicProperties::default().with_delivery_mode(2),
                )
                .await?,
            );
        }
        for c in confirms {
            c.await?;
        }
    }
    Ok(())
}

/// Bare RabbitMQ with `n` persistent messages in a quorum queue, acknowledged one by one as
/// the services do: (published with confirms and consumed at the same time, msgs/s; consumed
/// from a backlog already queued, msgs/s — like for like with the services' backlog runs).
async fn bare_throughput(n: usize) -> anyhow::Result<(f64, f64)> {
    let conn = lapin::Connection::connect(&testkit::amqp_url(), lapin::ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    ch.confirm_select(Default::default()).await?;
    let body = envelope(Uuid::now_v7(), "bench.flow", queued(Uuid::new_v4()));
    let bodies = vec![body; n];
    let mut rates = Vec::new();
    for backlog in [false, true] {
        let queue = quorum_queue(&ch, "bench.flow").await?;
        if backlog {
            publish_all(&ch, "", &queue, &bodies).await?;
        }
        let consumer_ch = conn.create_channel().await?;
        consumer_ch.basic_qos(128, Default::default()).await?;
        let mut consumer = consumer_ch
            .basic_consume(
                ShortString::from(queue.as_str()),
                ShortString::from(""),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let started = Instant::now();
        let receiver = tokio::spawn(async move {
            let mut got = 0usize;
            while let Some(Ok(d)) = consumer.next().await {
                got += 1;
                let _ = d.ack(BasicAckOptions::default()).await;
                if got >= n {
                    break;
                }
            }
            got
        });
        if !backlog {
            publish_all(&ch, "", &queue, &bodies).await?;
        }
        let got = tokio::time::timeout(Duration::from_secs(300), receiver).await??;
        rates.push(got as f64 / started.elapsed().as_secs_f64());
        let _ = consumer_ch.close(200, ShortString::from("done")).await;
    }
    let _ = conn.close(200, ShortString::from("done")).await;
    Ok((rates[0], rates[1]))
}

async fn notify_bench(stack: &mut Stack, args: &Args, report: &mut String) -> anyhow::Result<()> {
    // Notifications alone: the producers stay quiet.
    stack.service("intake").stop().await?;
    stack.service("routing").stop().await?;
    let n = 20_000usize;
    let url = stack.url("notifications");
    let exchange = stack
        .service("notifications")
        .setting("BUS__EXCHANGE")
        .unwrap_or_default()
        .to_owned();
    let db_url = stack.database_url("notifications");
    let mut db = sqlx::PgConnection::connect(&db_url).await?;
    let sink = testkit::sinks::HttpSink::start().await?;
    let res = stack
        .client
        .post(format!("{url}/v1/webhook-endpoints"))
        .bearer_auth(token(Uuid::new_v4(), Role::Admin))
        .json(&json!({"url": format!("{}/hooks", sink.url()), "event_types": ["intake.incident.opened"], "allow_private": true}))
        .send()
        .await?;
    anyhow::ensure!(res.status().is_success(), "endpoint: {}", res.text().await?);

    eprintln!("      bare RabbitMQ: {n} messages published and consumed...");
    let (bare, bare_backlog) = bare_throughput(n).await?;

    let conn = lapin::Connection::connect(&testkit::amqp_url(), lapin::ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    ch.confirm_select(Default::default()).await?;

    // Inbox: a backlog of `n` events waits while the service is down, then drains.
    eprintln!("      inbox: {n} events queued while notifications is stopped...");
    stack.service("notifications").stop().await?;
    let bodies: Vec<Vec<u8>> = (0..n)
        .map(|_| envelope(Uuid::now_v7(), "routing.ticket.queued", queued(Uuid::new_v4())))
        .collect();
    publish_all(&ch, &exchange, "routing.ticket.queued", &bodies).await?;
    let inbox_count = "SELECT count(*) FROM delivery WHERE channel = 'in_app' AND event_type = 'routing.ticket.queued'";
    stack.service("notifications").restart().await?;
    let started = Instant::now();
    let at_ready: i64 = sqlx::query_scalar(inbox_count).fetch_one(&mut db).await?;
    loop {
        let done: i64 = sqlx::query_scalar(inbox_count).fetch_one(&mut db).await?;
        if done >= n as i64 {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(300),
            "only {done} of {n} inbox deliveries after 300 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let inbox_rate = (n as i64 - at_ready) as f64 / started.elapsed().as_secs_f64();

    // Webhooks: the same with events only the endpoint subscribes to.
    eprintln!("      webhooks: {n} events queued while notifications is stopped...");
    stack.service("notifications").stop().await?;
    let bodies: Vec<Vec<u8>> = (0..n)
        .map(|_| {
            envelope(
                Uuid::now_v7(),
                "intake.incident.opened",
                json!({"incident_id": Uuid::now_v7(), "fault_type": "network",
                "title": "Live classroom down", "ticket_ids": [Uuid::now_v7()], "opened_at": chrono::Utc::now()}),
            )
        })
        .collect();
    publish_all(&ch, &exchange, "intake.incident.opened", &bodies).await?;
    stack.service("notifications").restart().await?;
    let started = Instant::now();
    let at_ready = sink.count();
    sink.wait_for(n, 300).await?;
    let hook_rate = (n - at_ready) as f64 / started.elapsed().as_secs_f64();
    let failed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM delivery WHERE channel = 'webhook' AND status <> 'delivered'")
            .fetch_one(&mut db)
            .await?;

    // Latency: events published at 1,000/s; the inbox row's write time vs the publish time.
    let rate = 1000u64;
    let total = rate * args.seconds;
    eprintln!("      latency: {total} events at {rate}/s...");
    let mut sent: Vec<(Uuid, f64)> = Vec::with_capacity(total as usize);
    let mut interval = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for _ in 0..total {
        interval.tick().await;
        let id = Uuid::now_v7();
        let body = envelope(id, "routing.ticket.queued", queued(Uuid::new_v4()));
        let at = epoch_ms();
        ch.basic_publish(
            ShortString::from(exchange.as_str()),
            ShortString::from("routing.ticket.queued"),
            Default::default(),
            &body,
            lapin::BasicProperties::default().with_delivery_mode(2),
        )
        .await?;
        sent.push((id, at));
    }
    let ids: Vec<Uuid> = sent.iter().map(|s| s.0).collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    let rows: Vec<(Uuid, f64)> = loop {
        let rows: Vec<(Uuid, f64)> = sqlx::query_as(
            "SELECT event_id, (extract(epoch FROM sent_at) * 1000)::float8 FROM delivery \
             WHERE channel = 'in_app' AND event_id = ANY($1)",
        )
        .bind(&ids)
        .fetch_all(&mut db)
        .await?;
        if rows.len() >= ids.len() || Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let at: std::collections::HashMap<Uuid, f64> = sent.into_iter().collect();
    let mut lat: Vec<f64> = rows
        .iter()
        .filter_map(|(id, done)| at.get(id).map(|s| (done - s).max(0.0)))
        .collect();
    lat.sort_by(f64::total_cmp);
    let _ = conn.close(200, ShortString::from("done")).await;

    writeln!(
        report,
        "\n## Notifications (one instance, consumer batches of 64, 4 dispatch loops)\n"
    )?;
    writeln!(report, "| measure | value |\n|---|---|")?;
    writeln!(
        report,
        "| bare RabbitMQ, {n} persistent messages: published (confirmed) while consumed (acked) / consumed from a backlog, msgs/s | {bare:.0} / {bare_backlog:.0} |"
    )?;
    writeln!(
        report,
        "| in-app inbox deliveries/s, {n} events from a backlog (target ≥ 5,000) | {inbox_rate:.0} ({:.0}% of the bare backlog consume) |",
        100.0 * inbox_rate / bare_backlog
    )?;
    writeln!(
        report,
        "| signed webhook deliveries/s into a local HTTP sink, {n} events from a backlog (target ≥ 5,000) | {hook_rate:.0} ({:.0}% of the bare backlog consume); {failed} not delivered |",
        100.0 * hook_rate / bare_backlog
    )?;
    writeln!(
        report,
        "| event published → inbox delivery written at {rate}/s ({} of {total} events), p50 / p99 / max ms (target p99 ≤ 50) | {:.1} / {:.1} / {:.1} |",
        lat.len(),
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN)
    )?;
    Ok(())
}
