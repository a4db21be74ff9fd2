//! Refund part 1: refund requests filed over HTTP (the enrolment locked, the policy in force
//! evaluated, the request, its audit trail, its events and the idempotent response written in
//! one transaction) vs pgbench running the same statements per request on the refund
//! service's own database; then quotes (`POST /v1/quotes`, what-if dates and sessions) vs
//! pgbench's select-by-key on the enrolment table of the same database.
//!
//! Intake and notifications (which consume refund's events) wait during the HTTP runs, their
//! queues keeping the events, so the figures are refund's; the refund service itself is
//! stopped while pgbench files, so its relay does not publish pgbench's outbox rows (they are
//! marked published before it starts again).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use platform::auth::Role;
use serde_json::{Value, json};
use sqlx::Connection;
use system_tests::{Stack, token};
use uuid::Uuid;

use crate::Args;
use crate::support::{busy_since, cpu_ticks, pct};

/// What the service runs per filing, in order (`core::filing`, `platform::idempotency`, the
/// outbox); `true`: only when the request is approved automatically. BEGIN and COMMIT come on
/// top (between the first statement and the second, and after the last).
const FILING_STATEMENTS: [(&str, bool); 12] = [
    ("idempotency key looked up (before the transaction)", false),
    ("enrolment row locked (SELECT … FOR UPDATE)", false),
    ("refund state: the open-request check and what was refunded", false),
    ("policy in force at enrolment", false),
    ("request inserted (RETURNING the row)", false),
    ("audit row: submit", false),
    ("audit row: quote (the explanation)", false),
    ("audit row: approve", true),
    ("outbox row: refund.request.submitted", false),
    ("outbox row: refund.request.quoted", false),
    ("outbox row: refund.request.approved", true),
    ("response saved under the idempotency key", false),
];

/// Statements per filing: (approved automatically, otherwise).
fn statement_counts() -> (usize, usize) {
    let all = FILING_STATEMENTS.len();
    let auto_only = FILING_STATEMENTS.iter().filter(|(_, auto)| *auto).count();
    (all, all - auto_only)
}

/// The pgbench script of one filing: the statements of [`FILING_STATEMENTS`], as the service
/// sends them, with its payloads (quote lines, explanations, envelopes, responses) sampled from
/// the service's own rows and passed as variables (`-D`). Enrolment `k` (seeded by
/// [`seed_pgbench_enrolments`]) is taken once: client `c`'s `n`-th filing is for
/// `k = BASE + n · clients + c`, inside the cooling-off period when `n` is even.
const FILING_SCRIPT: &str = r#"\set n :n + 1
\set k 100000000000 + :n * :clients + :client_id
\set auto 1 - :n % 2
\set r random(1, 9223372036854775806)
SELECT fingerprint, response_status, response_body FROM idempotency_key WHERE scope = 'refund-requests:00000000-0000-4000-9000-' || :k AND key = md5(:r::text);
BEGIN;
SELECT id, customer_id, course_id, class_id, paid_minor, currency, channel, payment_reference, enrolled_at, total_sessions, attended_sessions, service_ends_at, non_refundable, discount_minor, created_at, updated_at FROM enrolment WHERE id = ('00000000-0000-4000-8000-' || :k)::uuid FOR UPDATE \gset e_
SELECT coalesce(sum(approved_minor) FILTER (WHERE status = ANY(:money::text[])), 0)::bigint AS refunded_minor, count(*) FILTER (WHERE status NOT IN ('rejected', 'cancelled')) AS live_requests, (array_agg(id) FILTER (WHERE status = ANY(:open::text[])))[1] AS open_request_id FROM refund_request WHERE enrolment_id = :e_id::uuid;
SELECT version, name, preset, rules, effective_from, created_by, created_at FROM refund_policy WHERE effective_from <= :e_enrolled_at::timestamptz ORDER BY effective_from DESC, version DESC LIMIT 1 \gset p_
\if :auto
INSERT INTO refund_request (id, enrolment_id, customer_id, ticket_id, reason, comment, status, amount_minor, currency, quote_minor, quote_lines, in_cooling_off, policy_version, decider, approved_minor, filed_by, decided_at, version, created_at, updated_at) VALUES (gen_random_uuid(), :e_id::uuid, :e_customer_id::uuid, NULL, 'schedule', :comment, 'approved', :e_paid_minor::bigint, :e_currency, :e_paid_minor::bigint, :lines_auto::jsonb, true, :p_version::int, 'automatic', :e_paid_minor::bigint, :e_customer_id::uuid, now(), 3, now(), now()) RETURNING id, enrolment_id, customer_id, ticket_id, reason, comment, status, amount_minor, currency, quote_minor, quote_lines, in_cooling_off, policy_version, decider, approved_minor, filed_by, reviewed_by, reviewed_at, decided_by, decided_at, decision_note, paid_at, version, created_at, updated_at \gset q_
INSERT INTO refund_audit (request_id, at, action, from_status, to_status, amount_minor, currency, policy_version, actor_id, actor_roles, note) VALUES (:q_id::uuid, now(), 'submit', NULL, 'requested', :q_amount_minor::bigint, :q_currency, :q_policy_version::int, :e_customer_id::uuid, :roles::text[], :comment);
INSERT INTO refund_audit (request_id, at, action, from_status, to_status, amount_minor, currency, policy_version, actor_id, actor_roles, note) VALUES (:q_id::uuid, now(), 'quote', 'requested', 'requested', :q_quote_minor::bigint, :q_currency, :q_policy_version::int, NULL, '{}'::text[], :explanation_auto);
INSERT INTO refund_audit (request_id, at, action, from_status, to_status, amount_minor, currency, policy_version, actor_id, actor_roles, note) VALUES (:q_id::uuid, now(), 'approve', 'requested', 'approved', :q_amount_minor::bigint, :q_currency, :q_policy_version::int, NULL, '{}'::text[], :approve_note);
INSERT INTO outbox_event (event_id, event_type, envelope, traceparent) SELECT gen_random_uuid(), 'refund.request.submitted', :env_submitted::jsonb, NULL;
INSERT INTO outbox_event (event_id, event_type, envelope, traceparent) SELECT gen_random_uuid(), 'refund.request.quoted', :env_quoted::jsonb, NULL;
INSERT INTO outbox_event (event_id, event_type, envelope, traceparent) SELECT gen_random_uuid(), 'refund.request.approved', :env_approved::jsonb, NULL;
INSERT INTO idempotency_key (scope, key, fingerprint, response_status, response_body) VALUES ('refund-requests:00000000-0000-4000-9000-' || :k, md5(:r::text), :fingerprint, 201, :response_auto::jsonb) ON CONFLICT DO NOTHING;
\else
INSERT INTO refund_request (id, enrolment_id, customer_id, ticket_id, reason, comment, status, amount_minor, currency, quote_minor, quote_lines, in_cooling_off, policy_version, decider, approved_minor, filed_by, decided_at, version, created_at, updated_at) VALUES (gen_random_uuid(), :e_id::uuid, :e_customer_id::uuid, NULL, 'schedule', :comment, 'requested', :quote_review::bigint, :e_currency, :quote_review::bigint, :lines_review::jsonb, false, :p_version::int, 'agent', NULL, :e_customer_id::uuid, NULL, 2, now(), now()) RETURNING id, enrolment_id, customer_id, ticket_id, reason, comment, status, amount_minor, currency, quote_minor, quote_lines, in_cooling_off, policy_version, decider, approved_minor, filed_by, reviewed_by, reviewed_at, decided_by, decided_at, decision_note, paid_at, version, created_at, updated_at \gset q_
INSERT INTO refund_audit (request_id, at, action, from_status, to_status, amount_minor, currency, policy_version, actor_id, actor_roles, note) VALUES (:q_id::uuid, now(), 'submit', NULL, 'requested', :q_amount_minor::bigint, :q_currency, :q_policy_version::int, :e_customer_id::uuid, :roles::text[], :comment);
INSERT INTO refund_audit (request_id, at, action, from_status, to_status, amount_minor, currency, policy_version, actor_id, actor_roles, note) VALUES (:q_id::uuid, now(), 'quote', 'requested', 'requested', :q_quote_minor::bigint, :q_currency, :q_policy_version::int, NULL, '{}'::text[], :explanation_review);
INSERT INTO outbox_event (event_id, event_type, envelope, traceparent) SELECT gen_random_uuid(), 'refund.request.submitted', :env_submitted::jsonb, NULL;
INSERT INTO outbox_event (event_id, event_type, envelope, traceparent) SELECT gen_random_uuid(), 'refund.request.quoted', :env_quoted::jsonb, NULL;
INSERT INTO idempotency_key (scope, key, fingerprint, response_status, response_body) VALUES ('refund-requests:00000000-0000-4000-9000-' || :k, md5(:r::text), :fingerprint, 201, :response_review::jsonb) ON CONFLICT DO NOTHING;
\endif
COMMIT;
"#;

/// pgbench's select-by-key: one of the seeded enrolments at random.
const SELECT_SCRIPT: &str = r#"\set k 100000000000 + random(1, :seeded)
SELECT * FROM enrolment WHERE id = ('00000000-0000-4000-8000-' || :k)::uuid;
"#;

/// The statements of a quote (`core::policies::quote`: the enrolment, its refund state, the
/// policy in force; no transaction), for context beside the select-by-key.
const QUOTE_SCRIPT: &str = r#"\set k 100000000000 + random(1, :seeded)
SELECT id, customer_id, course_id, class_id, paid_minor, currency, channel, payment_reference, enrolled_at, total_sessions, attended_sessions, service_ends_at, non_refundable, discount_minor, created_at, updated_at FROM enrolment WHERE id = ('00000000-0000-4000-8000-' || :k)::uuid \gset e_
SELECT coalesce(sum(approved_minor) FILTER (WHERE status = ANY(:money::text[])), 0)::bigint AS refunded_minor, count(*) FILTER (WHERE status NOT IN ('rejected', 'cancelled')) AS live_requests, (array_agg(id) FILTER (WHERE status = ANY(:open::text[])))[1] AS open_request_id FROM refund_request WHERE enrolment_id = :e_id::uuid;
SELECT version, name, preset, rules, effective_from, created_by, created_at FROM refund_policy WHERE effective_from <= :e_enrolled_at::timestamptz ORDER BY effective_from DESC, version DESC LIMIT 1;
"#;

/// Enrolment and customer ids of pgbench's enrolments: these prefixes and `BASE + j`.
const PG_ENROLMENT_PREFIX: &str = "00000000-0000-4000-8000-";
const PG_CUSTOMER_PREFIX: &str = "00000000-0000-4000-9000-";
const BASE: i64 = 100_000_000_000;

/// Both runs' enrolments: 800.00 CNY bought 2 days ago (inside the standard policy's 7-day
/// cooling-off: the whole payment, at most `auto_max_minor`, is approved at once), or 3,800.00
/// CNY bought 40 days ago with 2 of 12 sessions attended (the 70% tier after the 200.00 of
/// materials: 2,520.00 for an agent to decide).
const PAID_AUTO: i64 = 80_000;
const PAID_REVIEW: i64 = 380_000;
const MATERIALS: i64 = 20_000;
const SESSIONS: i32 = 12;
const DAYS_AUTO: i64 = 2;
const DAYS_REVIEW: i64 = 40;
const COMMENT: &str = "上课时间和孩子的学校冲突";
/// Reasons the HTTP filings cycle through (none a special case).
const REASONS: [&str; 4] = ["schedule", "course_quality", "teacher", "relocation"];
/// Reasons the quotes pick from.
const QUOTE_REASONS: [&str; 6] = [
    "schedule",
    "course_quality",
    "teacher",
    "relocation",
    "duplicate_charge",
    "other",
];

/// One enrolment PUT for the HTTP runs, with its customer's token made beforehand.
struct Enrolment {
    id: Uuid,
    customer: Uuid,
    token: String,
    enrolled_at: DateTime<Utc>,
    auto: bool,
}

impl Enrolment {
    fn record(&self, i: usize) -> Value {
        json!({
            "customer_id": self.customer,
            "course_id": "python-101",
            "class_id": "python-101-2026-spring-3",
            "paid_minor": if self.auto { PAID_AUTO } else { PAID_REVIEW },
            "currency": "CNY",
            "channel": "wechat_pay",
            "payment_reference": format!("wx-{i}"),
            "enrolled_at": self.enrolled_at,
            "total_sessions": SESSIONS,
            "attended_sessions": if self.auto { 1 } else { 2 },
            "non_refundable": [{"kind": "materials", "amount_minor": MATERIALS}],
        })
    }
}

/// One timed HTTP run.
#[derive(Default)]
struct HttpRun {
    /// Latencies of the successful requests, ms, sorted.
    lat: Vec<f64>,
    /// Other answers by status (0: not sent).
    others: BTreeMap<u16, u64>,
    /// Seconds from the first request to the last answer.
    secs: f64,
    /// Every enrolment was used before the time was up.
    ran_out: bool,
    /// Share of the machine's CPU busy, percent.
    busy: f64,
}

impl HttpRun {
    fn rate(&self) -> f64 {
        self.lat.len() as f64 / self.secs.max(1e-9)
    }

    fn others_text(&self) -> String {
        if self.others.is_empty() {
            return "none".into();
        }
        self.others
            .iter()
            .map(|(status, n)| format!("{n} × {status}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Rows written per filing (request, audit, outbox, idempotency key), counted afterwards.
struct Rows {
    requests: i64,
    automatic: i64,
    audit: i64,
    outbox: i64,
    keys: i64,
}

impl Rows {
    fn text(&self) -> String {
        let per = |n: i64| n as f64 / self.requests.max(1) as f64;
        format!(
            "{} requests ({:.0}% approved automatically): per request {:.2} audit, {:.2} outbox, {:.2} idempotency-key rows",
            self.requests,
            100.0 * per(self.automatic),
            per(self.audit),
            per(self.outbox),
            per(self.keys)
        )
    }
}

/// Runs the benchmark and writes its table.
pub async fn run(stack: &mut Stack, args: &Args, report: &mut String) -> anyhow::Result<()> {
    let (auto_count, review_count) = statement_counts();
    eprintln!(
        "      statements per filing: {auto_count} approved automatically, {review_count} otherwise (+ BEGIN, COMMIT):"
    );
    for (i, (what, auto_only)) in FILING_STATEMENTS.iter().enumerate() {
        eprintln!(
            "        {:>2}. {what}{}",
            i + 1,
            if *auto_only { " (automatic approvals only)" } else { "" }
        );
    }
    let url = stack.url("refund");
    let db = stack.database_url("refund");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;

    // Enrolments for every request the HTTP run can file (one each), and a warm-up.
    let warm_up = 4 * args.clients;
    let count = warm_up + (args.seconds as usize * 2000).max(4000);
    let enrolments = Arc::new(make_enrolments(count));
    put_enrolments(&client, &url, &enrolments, args.clients).await?;
    eprintln!("      filing {warm_up} warm-up requests (their rows are pgbench's samples)...");
    let warm = file_requests(&client, &url, &enrolments, 0..warm_up, args.clients, None).await?;
    anyhow::ensure!(warm.others.is_empty(), "warm-up filings failed: {}", warm.others_text());

    let mut conn = sqlx::PgConnection::connect(&db).await?;
    let samples = sample_payloads(&mut conn).await?;
    let seeded = (args.seconds as i64 * 10_000).max(50_000);
    eprintln!("      seeding {seeded} enrolments for pgbench...");
    seed_pgbench_enrolments(&mut conn, seeded, args.clients).await?;

    // pgbench first, with the service stopped: its relay would publish pgbench's events.
    eprintln!(
        "      pgbench: the same statements per filing, {} clients, {} s (refund stopped)...",
        args.clients, args.seconds
    );
    stack.service("refund").stop().await?;
    let outbox_before: i64 = sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM outbox_event")
        .fetch_one(&mut conn)
        .await?;
    let mut vars = samples.clone();
    vars.push(("n".into(), "0".into()));
    vars.push(("clients".into(), args.clients.to_string()));
    let cpu = cpu_ticks();
    let raw_tps = pgbench(FILING_SCRIPT, &db, args, &vars)?;
    let raw_busy = busy_since(cpu);
    let pg_rows = pgbench_rows(&mut conn, outbox_before).await?;
    sqlx::query("UPDATE outbox_event SET published_at = now() WHERE id > $1 AND published_at IS NULL")
        .bind(outbox_before)
        .execute(&mut conn)
        .await?;
    save_script(args, "refund-pgbench-filing.sql", FILING_SCRIPT);
    save_script(args, "refund-pgbench-select.sql", SELECT_SCRIPT);
    stack.service("refund").restart().await?;

    // Refund alone: intake and notifications (which consume refund's events) wait, their
    // queues keeping the events. A new client: the old one's connections went with the
    // stopped process.
    stack.service("intake").stop().await?;
    stack.service("notifications").stop().await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    eprintln!(
        "      refund requests over HTTP, {} clients, {} s ({} enrolments ready)...",
        args.clients,
        args.seconds,
        count - warm_up
    );
    let filed = file_requests(
        &client,
        &url,
        &enrolments,
        warm_up..count,
        args.clients,
        Some(args.seconds),
    )
    .await?;
    let http_rows = service_rows(&mut conn).await?;

    eprintln!(
        "      pgbench select-by-key on the enrolment table ({} rows), {} s...",
        count as i64 + seeded,
        args.seconds
    );
    let raw_select = pgbench(SELECT_SCRIPT, &db, args, &[("seeded".into(), seeded.to_string())])?;
    eprintln!(
        "      quotes over HTTP (what-if dates and sessions), {} s...",
        args.seconds
    );
    let quoted = quotes(&client, &url, &enrolments, args.clients, args.seconds).await?;
    eprintln!(
        "      pgbench: the quote's three statements (enrolment, refund state, policy), {} s...",
        args.seconds
    );
    let mut quote_vars: Vec<(String, String)> = samples
        .iter()
        .filter(|(name, _)| name == "money" || name == "open")
        .cloned()
        .collect();
    quote_vars.push(("seeded".into(), seeded.to_string()));
    let raw_quote = pgbench(QUOTE_SCRIPT, &db, args, &quote_vars)?;
    save_script(args, "refund-pgbench-quote.sql", QUOTE_SCRIPT);
    conn.close().await?;
    stack.service("intake").restart().await?;
    stack.service("notifications").restart().await?;

    let mix = 100.0 * http_rows.automatic as f64 / http_rows.requests.max(1) as f64;
    writeln!(
        report,
        "\n## Refund requests (HTTP, the policy evaluated, one transaction with the request, its audit rows, its events and the idempotent response; one enrolment and customer per request, {mix:.0}% approved automatically in the cooling-off period; intake and notifications, which consume refund's events, paused)\n"
    )?;
    writeln!(report, "| measure | value |\n|---|---|")?;
    writeln!(
        report,
        "| refund requests filed/s ({} clients, Idempotency-Key on each){} | {:.0} |",
        args.clients,
        if filed.ran_out {
            format!(", ran out of enrolments after {:.1} s", filed.secs)
        } else {
            String::new()
        },
        filed.rate()
    )?;
    writeln!(
        report,
        "| raw PostgreSQL, the same {auto_count} statements per automatic approval and {review_count} per other filing, + BEGIN/COMMIT (pgbench, prepared, same tables and database) tx/s | {raw_tps:.0} |"
    )?;
    writeln!(
        report,
        "| ratio (target ≥ 50%) | {:.0}% |",
        100.0 * filed.rate() / raw_tps
    )?;
    writeln!(
        report,
        "| filing latency at full load p50 / p99 ms | {:.1} / {:.1} |",
        pct(&filed.lat, 0.50),
        pct(&filed.lat, 0.99)
    )?;
    writeln!(report, "| other answers during the run | {} |", filed.others_text())?;
    writeln!(
        report,
        "| CPU busy: HTTP run / pgbench run | {:.0}% / {raw_busy:.0}% |",
        filed.busy
    )?;
    writeln!(report, "| rows, service | {} |", http_rows.text())?;
    writeln!(report, "| rows, pgbench | {} |", pg_rows.text())?;
    writeln!(
        report,
        "| quotes/s (`POST /v1/quotes`, what-if dates and sessions; three statements each: the enrolment, its refund state, the policy) | {:.0} |",
        quoted.rate()
    )?;
    writeln!(
        report,
        "| raw PostgreSQL select-by-key on the enrolment table (pgbench, prepared) tx/s | {raw_select:.0} |"
    )?;
    writeln!(
        report,
        "| ratio (target ≥ 50%) | {:.0}% |",
        100.0 * quoted.rate() / raw_select
    )?;
    writeln!(
        report,
        "| for context: pgbench running the quote's three statements tx/s; quotes/s as a share of it | {raw_quote:.0}; {:.0}% |",
        100.0 * quoted.rate() / raw_quote
    )?;
    writeln!(
        report,
        "| quote latency p50 / p99 ms; other answers; CPU busy | {:.1} / {:.1}; {}; {:.0}% |",
        pct(&quoted.lat, 0.50),
        pct(&quoted.lat, 0.99),
        quoted.others_text(),
        quoted.busy
    )?;
    Ok(())
}

/// `count` enrolments, every second one inside the cooling-off period, each with its own
/// customer and that customer's token.
fn make_enrolments(count: usize) -> Vec<Enrolment> {
    let now = Utc::now();
    (0..count)
        .map(|i| {
            let auto = i % 2 == 0;
            let customer = Uuid::new_v4();
            Enrolment {
                id: Uuid::new_v4(),
                customer,
                token: token(customer, Role::Customer),
                enrolled_at: now - chrono::Duration::days(if auto { DAYS_AUTO } else { DAYS_REVIEW }),
                auto,
            }
        })
        .collect()
}

/// PUTs every enrolment as the company's systems do (a service with `enrolments:write`).
async fn put_enrolments(
    client: &reqwest::Client,
    url: &str,
    enrolments: &Arc<Vec<Enrolment>>,
    clients: usize,
) -> anyhow::Result<()> {
    let total = enrolments.len();
    eprintln!("      PUT {total} enrolments...");
    let system = testkit::service_token(Uuid::new_v4(), &["enrolments:write"]);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, url, system, next, enrolments) = (
            client.clone(),
            url.to_owned(),
            system.clone(),
            next.clone(),
            enrolments.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut failed: Option<String> = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(e) = enrolments.get(i) else { break };
                let res = client
                    .put(format!("{url}/v1/enrolments/{}", e.id))
                    .bearer_auth(&system)
                    .json(&e.record(i))
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status() == 201 => {
                        let _ = r.bytes().await;
                    }
                    Ok(r) => {
                        let status = r.status();
                        failed.get_or_insert(format!("{status}: {}", r.text().await.unwrap_or_default()));
                    }
                    Err(e) => {
                        failed.get_or_insert(e.to_string());
                    }
                }
                if (i + 1) % (total / 4).max(1) == 0 {
                    eprintln!(
                        "        {} of {total} enrolments ({:.0}/s)",
                        i + 1,
                        (i + 1) as f64 / started.elapsed().as_secs_f64()
                    );
                }
            }
            failed
        }));
    }
    for t in tasks {
        if let Some(err) = t.await? {
            anyhow::bail!("PUT /v1/enrolments failed: {err}");
        }
    }
    Ok(())
}

/// `clients` tasks filing one request per enrolment of `range`, in order, as each enrolment's
/// customer with an Idempotency-Key of its own, until the range is used up or `seconds` pass.
async fn file_requests(
    client: &reqwest::Client,
    url: &str,
    enrolments: &Arc<Vec<Enrolment>>,
    range: std::ops::Range<usize>,
    clients: usize,
    seconds: Option<u64>,
) -> anyhow::Result<HttpRun> {
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicUsize::new(range.start));
    let end = range.end;
    let started = Instant::now();
    let cpu = cpu_ticks();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, url, stop, next, enrolments) = (
            client.clone(),
            format!("{url}/v1/refund-requests"),
            stop.clone(),
            next.clone(),
            enrolments.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut run = HttpRun::default();
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    run.ran_out = true;
                    break;
                }
                let e = &enrolments[i];
                let body =
                    json!({"enrolment_id": e.id, "reason": REASONS[(i / 2) % REASONS.len()], "comment": COMMENT});
                let t = Instant::now();
                let res = client
                    .post(&url)
                    .bearer_auth(&e.token)
                    .header("Idempotency-Key", Uuid::new_v4().to_string())
                    .json(&body)
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status() == 201 => {
                        let _ = r.bytes().await;
                        run.lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    Ok(r) => *run.others.entry(r.status().as_u16()).or_default() += 1,
                    Err(_) => *run.others.entry(0).or_default() += 1,
                }
            }
            run
        }));
    }
    if let Some(seconds) = seconds {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            stop.store(true, Ordering::Relaxed);
        });
    }
    gather(tasks, started, cpu).await
}

/// Adds the tasks' runs up.
async fn gather(
    tasks: Vec<tokio::task::JoinHandle<HttpRun>>,
    started: Instant,
    cpu: (u64, u64),
) -> anyhow::Result<HttpRun> {
    let mut all = HttpRun::default();
    for t in tasks {
        let run = t.await?;
        all.lat.extend(run.lat);
        for (status, n) in run.others {
            *all.others.entry(status).or_default() += n;
        }
        all.ran_out |= run.ran_out;
    }
    all.secs = started.elapsed().as_secs_f64();
    all.busy = busy_since(cpu);
    all.lat.sort_by(f64::total_cmp);
    Ok(all)
}

/// `clients` tasks asking for quotes for `seconds`: random enrolments as their customers,
/// random reasons, refund dates from enrolment to 120 days later and 0 to 12 sessions attended.
async fn quotes(
    client: &reqwest::Client,
    url: &str,
    enrolments: &Arc<Vec<Enrolment>>,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<HttpRun> {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let cpu = cpu_ticks();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, url, stop, enrolments) = (
            client.clone(),
            format!("{url}/v1/quotes"),
            stop.clone(),
            enrolments.clone(),
        );
        // xorshift64, seeded apart per task
        let mut state = (Uuid::new_v4().as_u128() as u64) | 1;
        tasks.push(tokio::spawn(async move {
            let mut random = move || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            };
            let mut run = HttpRun::default();
            while !stop.load(Ordering::Relaxed) {
                let e = &enrolments[random() as usize % enrolments.len()];
                let at = e.enrolled_at + chrono::Duration::hours((random() % (120 * 24)) as i64);
                let body = json!({
                    "enrolment_id": e.id,
                    "reason": QUOTE_REASONS[random() as usize % QUOTE_REASONS.len()],
                    "at": at,
                    "attended_sessions": random() % (SESSIONS as u64 + 1),
                });
                let t = Instant::now();
                let res = client.post(&url).bearer_auth(&e.token).json(&body).send().await;
                match res {
                    Ok(r) if r.status() == 200 => {
                        let _ = r.bytes().await;
                        run.lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    Ok(r) => *run.others.entry(r.status().as_u16()).or_default() += 1,
                    Err(_) => *run.others.entry(0).or_default() += 1,
                }
            }
            run
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    gather(tasks, started, cpu).await
}

/// The payloads pgbench writes, taken from the warm-up's rows (the service's own quote lines,
/// explanations, envelopes and responses), as pgbench variables.
async fn sample_payloads(conn: &mut sqlx::PgConnection) -> anyhow::Result<Vec<(String, String)>> {
    async fn one(conn: &mut sqlx::PgConnection, sql: &str, what: &str) -> anyhow::Result<String> {
        let v: Option<String> = sqlx::query_scalar(sql).fetch_optional(&mut *conn).await?.flatten();
        v.ok_or_else(|| anyhow::anyhow!("no sample of {what} among the warm-up's rows"))
    }
    let lines = "SELECT quote_lines::text FROM refund_request WHERE decider = $$D$$ LIMIT 1";
    let explanation = "SELECT a.note FROM refund_audit a JOIN refund_request r ON r.id = a.request_id \
                       WHERE a.action = 'quote' AND r.decider = $$D$$ LIMIT 1";
    let envelope = "SELECT envelope::text FROM outbox_event WHERE event_type = $$T$$ LIMIT 1";
    let response = "SELECT response_body::text FROM idempotency_key \
                    WHERE scope LIKE 'refund-requests:%' AND response_body->>'status' = $$S$$ LIMIT 1";
    let quote_review = one(
        conn,
        "SELECT quote_minor::text FROM refund_request WHERE decider = 'agent' LIMIT 1",
        "an agent's quote",
    )
    .await?;
    anyhow::ensure!(
        quote_review == ((PAID_REVIEW - MATERIALS) * 70 / 100).to_string(),
        "the quote of the enrolments outside cooling-off is {quote_review}: pgbench's enrolments would not match"
    );
    Ok(vec![
        ("money".into(), "{approved,payout_pending,paid}".into()),
        ("open".into(), "{requested,under_review}".into()),
        ("comment".into(), COMMENT.into()),
        ("roles".into(), "{customer}".into()),
        ("quote_review".into(), quote_review),
        (
            "lines_auto".into(),
            one(conn, &lines.replace("$$D$$", "'automatic'"), "quote lines").await?,
        ),
        (
            "lines_review".into(),
            one(conn, &lines.replace("$$D$$", "'agent'"), "quote lines").await?,
        ),
        (
            "explanation_auto".into(),
            one(conn, &explanation.replace("$$D$$", "'automatic'"), "an explanation").await?,
        ),
        (
            "explanation_review".into(),
            one(conn, &explanation.replace("$$D$$", "'agent'"), "an explanation").await?,
        ),
        (
            "approve_note".into(),
            one(
                conn,
                "SELECT note FROM refund_audit WHERE action = 'approve' LIMIT 1",
                "an approval note",
            )
            .await?,
        ),
        (
            "env_submitted".into(),
            one(
                conn,
                &envelope.replace("$$T$$", "'refund.request.submitted'"),
                "an envelope",
            )
            .await?,
        ),
        (
            "env_quoted".into(),
            one(
                conn,
                &envelope.replace("$$T$$", "'refund.request.quoted'"),
                "an envelope",
            )
            .await?,
        ),
        (
            "env_approved".into(),
            one(
                conn,
                &envelope.replace("$$T$$", "'refund.request.approved'"),
                "an envelope",
            )
            .await?,
        ),
        (
            "fingerprint".into(),
            one(
                conn,
                "SELECT fingerprint FROM idempotency_key WHERE scope LIKE 'refund-requests:%' LIMIT 1",
                "a fingerprint",
            )
            .await?,
        ),
        (
            "response_auto".into(),
            one(conn, &response.replace("$$S$$", "'approved'"), "a response").await?,
        ),
        (
            "response_review".into(),
            one(conn, &response.replace("$$S$$", "'requested'"), "a response").await?,
        ),
    ])
}

/// `count` enrolments for pgbench with ids `PG_ENROLMENT_PREFIX` + `BASE + j`, shaped like the
/// HTTP run's: enrolment `j` is inside the cooling-off period when `j / clients` is even (the
/// script's filing number `n` of client `c` takes `j = n · clients + c`).
async fn seed_pgbench_enrolments(conn: &mut sqlx::PgConnection, count: i64, clients: usize) -> anyhow::Result<()> {
    sqlx::query(&format!(
        "INSERT INTO enrolment (id, customer_id, course_id, class_id, paid_minor, currency, channel, \
         payment_reference, enrolled_at, total_sessions, attended_sessions, service_ends_at, non_refundable, \
         discount_minor, created_at, updated_at) \
         SELECT ('{PG_ENROLMENT_PREFIX}' || ({BASE} + j))::uuid, ('{PG_CUSTOMER_PREFIX}' || ({BASE} + j))::uuid, \
                'python-101', 'python-101-2026-spring-3', CASE WHEN auto THEN {PAID_AUTO} ELSE {PAID_REVIEW} END, \
                'CNY', 'wechat_pay', 'wx-pg-' || j, \
                now() - CASE WHEN auto THEN interval '{DAYS_AUTO} days' ELSE interval '{DAYS_REVIEW} days' END, \
                {SESSIONS}, CASE WHEN auto THEN 1 ELSE 2 END, NULL, \
                '[{{\"kind\": \"materials\", \"amount_minor\": {MATERIALS}}}]', 0, now(), now() \
         FROM generate_series(1, $1::bigint) j, LATERAL (SELECT (j / $2::bigint) % 2 = 0 AS auto) a"
    ))
    .bind(count)
    .bind(clients as i64)
    .execute(&mut *conn)
    .await?;
    sqlx::query("ANALYZE enrolment").execute(&mut *conn).await?;
    Ok(())
}

/// The rows pgbench wrote (its enrolments', and outbox rows after `outbox_before`).
async fn pgbench_rows(conn: &mut sqlx::PgConnection, outbox_before: i64) -> anyhow::Result<Rows> {
    rows(
        conn,
        "LIKE",
        &format!("SELECT count(*) FROM outbox_event WHERE id > {outbox_before}"),
    )
    .await
}

/// The rows the service wrote for the HTTP filings (warm-up included); pgbench's are told
/// apart by their enrolments and their customers' scopes, outbox rows by their event ids
/// (pgbench's are random v4, the service's time-ordered v7).
async fn service_rows(conn: &mut sqlx::PgConnection) -> anyhow::Result<Rows> {
    rows(
        conn,
        "NOT LIKE",
        "SELECT count(*) FROM outbox_event WHERE event_type LIKE 'refund.request.%' \
         AND substr(event_id::text, 15, 1) = '7'",
    )
    .await
}

async fn rows(conn: &mut sqlx::PgConnection, like: &str, outbox: &str) -> anyhow::Result<Rows> {
    let requests = format!("FROM refund_request WHERE enrolment_id::text {like} '{PG_ENROLMENT_PREFIX}%'");
    Ok(Rows {
        requests: count(conn, &format!("SELECT count(*) {requests}")).await?,
        automatic: count(conn, &format!("SELECT count(*) {requests} AND decider = 'automatic'")).await?,
        audit: count(
            conn,
            &format!("SELECT count(*) FROM refund_audit WHERE request_id IN (SELECT id {requests})"),
        )
        .await?,
        outbox: count(conn, outbox).await?,
        keys: count(
            conn,
            &format!(
                "SELECT count(*) FROM idempotency_key WHERE scope LIKE 'refund-requests:%' \
                 AND scope {like} 'refund-requests:{PG_CUSTOMER_PREFIX}%'"
            ),
        )
        .await?,
    })
}

async fn count(conn: &mut sqlx::PgConnection, sql: &str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(sql).fetch_one(&mut *conn).await?)
}

/// Runs `script` with pgbench in prepared mode (as the service's driver prepares its
/// statements), as many clients as the run, `--seconds` long, with `vars` (`-D`); its
/// transactions per second. Any failed or aborted transaction fails the run.
fn pgbench(script: &str, url: &str, args: &Args, vars: &[(String, String)]) -> anyhow::Result<f64> {
    let path = std::env::temp_dir().join(format!("bench-refund-{}.sql", Uuid::new_v4()));
    std::fs::write(&path, script)?;
    let mut cmd = Command::new("pgbench");
    cmd.args([
        "-n",
        "-M",
        "prepared",
        "-c",
        &args.clients.to_string(),
        "-j",
        "2",
        "-T",
        &args.seconds.to_string(),
    ]);
    for (name, value) in vars {
        cmd.arg("-D").arg(format!("{name}={value}"));
    }
    let out = cmd.arg("-f").arg(&path).arg(url).output()?;
    let _ = std::fs::remove_file(&path);
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    anyhow::ensure!(
        out.status.success() && !err.contains("aborted"),
        "pgbench failed: {err}{text}"
    );
    anyhow::ensure!(
        text.lines()
            .find(|l| l.starts_with("number of failed transactions"))
            .is_none_or(|l| l.contains(": 0 ")),
        "pgbench had failed transactions: {text}"
    );
    text.lines()
        .find(|l| l.starts_with("tps ="))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no tps in pgbench output: {text}"))
}

/// Keeps a pgbench script beside the report, to run by hand.
fn save_script(args: &Args, name: &str, script: &str) {
    if let Some(dir) = std::path::Path::new(&args.report).parent() {
        let _ = std::fs::create_dir_all(dir);
        let _ = std::fs::write(dir.join(name), script);
    }
}
