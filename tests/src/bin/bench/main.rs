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
//! 8. Refund requests filed over HTTP (the policy evaluated; request, audit, outbox and
//!    idempotency-key rows in one transaction), a mix of automatic approvals in the cooling-off
//!    period and requests for an agent, vs pgbench running the same statements per request on
//!    refund's own database; quotes (what-if dates and sessions) vs pgbench's select-by-key.
//! 9. Training registrations over HTTP for one hot session and spread over 2,000 sessions, each
//!    vs pgbench running the same statements per registration on training-scheduling's database.

mod intake_create;
mod memory;
mod notifications;
mod quality_report;
mod redis_zadd;
mod refund;
mod routing_replicas;
mod support;
mod ticket_to_inbox;
mod training;

use std::fmt::Write as _;

use clap::Parser;
use system_tests::Stack;

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
    /// routing, notify, refund, training.
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
        eprintln!("[1/8] idle memory...");
        memory::run(&stack, &mut report).await?;
    }

    if args.wants("create") {
        eprintln!("[2/8] ticket creation throughput: pgbench, then intake...");
        intake_create::run(&mut stack, &args, &mut report).await?;
    }

    if args.wants("inbox") {
        eprintln!(
            "[3/8] ticket → inbox latency at {} tickets/s, then a bare broker hop...",
            args.rate
        );
        ticket_to_inbox::run(&stack, &args, &mut report).await?;
    }

    if args.wants("queue") {
        eprintln!("[4/8] live-queue writes: Redis ZADD vs redis-benchmark...");
        redis_zadd::run(&args, &mut report).await?;
    }

    if args.wants("report") {
        eprintln!("[5/8] quality report over {} tickets...", args.report_tickets);
        quality_report::run(&mut stack, &args, &mut report).await?;
    }

    if args.wants("routing") {
        eprintln!("[6/8] routing with two replicas: pgbench single inserts, assignments, created → offer...");
        routing_replicas::run(&mut stack, &args, &mut report).await?;
    }

    if args.wants("notify") {
        eprintln!(
            "[7/8] notifications: inbox and webhook deliveries/s, bare RabbitMQ, published → inbox at 1,000/s..."
        );
        notifications::run(&mut stack, &args, &mut report).await?;
    }

    if args.wants("refund") {
        eprintln!(
            "[8/8] refund: requests filed over HTTP vs pgbench running the same statements, quotes vs select-by-key..."
        );
        refund::run(&mut stack, &args, &mut report).await?;
    }

    if args.wants("training") {
        eprintln!("[9/9] training: registrations for one hot session and spread over many, each vs pgbench...");
        training::run(&mut stack, &args, &mut report).await?;
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
