//! Training-scheduling part 1: registrations over HTTP (`POST /v1/sessions/{id}/registrations`
//! with an Idempotency-Key; the session read, then one statement that locks the session row,
//! takes a seat or the next waitlist position and inserts the registration; the event and the
//! idempotent response in the same transaction) for one hot session (everyone at once for the
//! same class) and spread over many sessions, each vs pgbench running the same statements per
//! registration on training-scheduling's own database.
//!
//! Notifications (which consume training events) waits during the HTTP runs, its queue keeping
//! the events; training-scheduling itself is stopped while pgbench registers, so its relay does
//! not publish pgbench's outbox rows (they are marked published before it starts again).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use platform::auth::Role;
use serde_json::{Value, json};
use sqlx::Connection;
use system_tests::{Stack, token};
use uuid::Uuid;

use crate::Args;
use crate::support::{busy_since, cpu_ticks, pct};

const SERVICE: &str = "training-scheduling";

/// What the service runs per registration, in order (`platform::idempotency`,
/// `core::registrations::admit`, `store::registrations::admit`, the outbox). BEGIN and COMMIT
/// come on top (after the first statement, and after the last).
const REGISTRATION_STATEMENTS: [&str; 5] = [
    "idempotency key looked up (before the transaction)",
    "session read (in the transaction)",
    "store::registrations::admit: session row locked, seat or waitlist position taken, registration inserted (one statement)",
    "outbox row: training.registration.confirmed / .waitlisted",
    "response saved under the idempotency key",
];

/// The pgbench script of one registration: the statements of [`REGISTRATION_STATEMENTS`] as
/// the service sends them, payloads (envelope, response, fingerprint) sampled from the
/// service's rows. Session `k`: `BASE` (hot) or `BASE + random(1, :spread)` (spread), cloned
/// from the service's own session by [`seed_pgbench_sessions`]; a new participant each time.
const REGISTRATION_SCRIPT: &str = r#"\set k 100000000000 + :spread_on * random(1, :spread)
\set r random(1, 9223372036854775806)
SELECT fingerprint, response_status, response_body FROM idempotency_key WHERE scope = 'registrations:' || md5(:r::text) || ':00000000-0000-4000-8000-' || :k AND key = md5(:r::text);
BEGIN;
SELECT id, offering_id, occurrence, kind, title, mode, starts_at, ends_at, original_starts_at, time_zone, capacity, seats_taken, waitlist_issued, status, sequence, trainer_id, room, meeting_url, created_at, updated_at FROM session WHERE id = ('00000000-0000-4000-8000-' || :k)::uuid \gset s_
WITH s AS (SELECT id, offering_id, capacity, seats_taken FROM session WHERE id = :s_id::uuid AND status = 'scheduled' AND starts_at > now() FOR UPDATE), u AS (UPDATE session t SET seats_taken = t.seats_taken + (s.seats_taken < s.capacity)::int, waitlist_issued = t.waitlist_issued + (s.seats_taken >= s.capacity)::int FROM s WHERE t.id = s.id RETURNING t.id, t.offering_id, s.seats_taken < s.capacity AS seated, t.waitlist_issued) INSERT INTO registration (id, session_id, offering_id, participant_id, participant_kind, guardian_ids, status, waitlist_position, registered_by, created_at, updated_at) SELECT gen_random_uuid(), u.id, u.offering_id, md5(:r::text)::uuid, 'customer', '{}'::uuid[], CASE WHEN u.seated THEN 'confirmed' ELSE 'waitlisted' END, CASE WHEN u.seated THEN NULL ELSE u.waitlist_issued END, md5(:r::text)::uuid, now(), now() FROM u RETURNING id, session_id, offering_id, participant_id, participant_kind, guardian_ids, status, waitlist_position, registered_by, promoted_at, cancelled_at, cancelled_by, cancel_reason, rescheduled_to, version, created_at, updated_at \gset g_
INSERT INTO outbox_event (event_id, event_type, envelope, traceparent) SELECT gen_random_uuid(), :event_type, :envelope::jsonb, NULL;
INSERT INTO idempotency_key (scope, key, fingerprint, response_status, response_body) VALUES ('registrations:' || md5(:r::text) || ':00000000-0000-4000-8000-' || :k, md5(:r::text), :fingerprint, 201, :response::jsonb) ON CONFLICT DO NOTHING;
COMMIT;
"#;

const PG_SESSION_PREFIX: &str = "00000000-0000-4000-8000-";
const BASE: i64 = 100_000_000_000;
/// Sessions the spread runs pick from: trainings of `PER_TRAINING` daily sessions each.
const SPREAD: usize = 2000;
const PER_TRAINING: usize = 200;
/// The service's largest capacity (`max_capacity`); registrations past it take the waitlist
/// (the same statements).
const CAPACITY: i32 = 5000;

/// One timed HTTP run.
#[derive(Default)]
struct HttpRun {
    lat: Vec<f64>,
    others: BTreeMap<u16, u64>,
    secs: f64,
    ran_out: bool,
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

/// Runs the benchmark and writes its table.
pub async fn run(stack: &mut Stack, args: &Args, report: &mut String) -> anyhow::Result<()> {
    let statements = REGISTRATION_STATEMENTS.len();
    eprintln!("      statements per registration: {statements} (+ BEGIN, COMMIT):");
    for (i, what) in REGISTRATION_STATEMENTS.iter().enumerate() {
        eprintln!("        {:>2}. {what}", i + 1);
    }
    let url = stack.url(SERVICE);
    let db = stack.database_url(SERVICE);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;

    eprintln!("      creating 1 hot session and {SPREAD} spread sessions...");
    let hot = create_sessions(&client, &url, 1).await?;
    let mut spread = Vec::new();
    for _ in 0..SPREAD / PER_TRAINING {
        spread.extend(create_sessions(&client, &url, PER_TRAINING).await?);
    }
    anyhow::ensure!(hot.len() == 1 && spread.len() == SPREAD, "unexpected session counts");
    let hot = Arc::new(hot);
    let spread = Arc::new(spread);

    // Customers (one per request) with tokens made beforehand.
    let warm_up = 4 * args.clients;
    let per_run = warm_up + (args.seconds as usize * 3000).max(6000);
    eprintln!("      making {} customer tokens...", 2 * per_run);
    let hot_people = Arc::new(customers(per_run));
    let spread_people = Arc::new(customers(per_run));

    eprintln!("      {warm_up} warm-up registrations (their rows are pgbench's samples)...");
    let warm = register(&client, &url, &spread, &spread_people, 0..warm_up, args.clients, None).await?;
    anyhow::ensure!(
        warm.others.is_empty(),
        "warm-up registrations failed: {}",
        warm.others_text()
    );

    let mut conn = sqlx::PgConnection::connect(&db).await?;
    let samples = sample_payloads(&mut conn).await?;
    seed_pgbench_sessions(&mut conn, spread[0]).await?;

    // pgbench first, with the service stopped: its relay would publish pgbench's events.
    stack.service(SERVICE).stop().await?;
    let outbox_before: i64 = sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM outbox_event")
        .fetch_one(&mut conn)
        .await?;
    let regs_before: i64 = sqlx::query_scalar("SELECT count(*) FROM registration")
        .fetch_one(&mut conn)
        .await?;
    let mut raw = Vec::new();
    for (name, on) in [("hot", 0), ("spread", 1)] {
        eprintln!(
            "      pgbench {name}: the same statements per registration, {} clients, {} s ({SERVICE} stopped)...",
            args.clients, args.seconds
        );
        let mut vars = samples.clone();
        vars.push(("spread_on".into(), on.to_string()));
        vars.push(("spread".into(), SPREAD.to_string()));
        let cpu = cpu_ticks();
        let tps = pgbench(REGISTRATION_SCRIPT, &db, args, &vars)?;
        raw.push((tps, busy_since(cpu)));
    }
    let pg_regs: i64 = sqlx::query_scalar("SELECT count(*) FROM registration")
        .fetch_one(&mut conn)
        .await?;
    let pg_outbox: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox_event WHERE id > $1")
        .bind(outbox_before)
        .fetch_one(&mut conn)
        .await?;
    sqlx::query("UPDATE outbox_event SET published_at = now() WHERE id > $1 AND published_at IS NULL")
        .bind(outbox_before)
        .execute(&mut conn)
        .await?;
    save_script(args, "training-pgbench-registration.sql", REGISTRATION_SCRIPT);
    stack.service(SERVICE).restart().await?;

    // Training-scheduling alone: notifications (which consumes its events) waits.
    stack.service("notifications").stop().await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    eprintln!(
        "      hot: registrations for one session over HTTP, {} clients, {} s...",
        args.clients, args.seconds
    );
    let hot_run = register(
        &client,
        &url,
        &hot,
        &hot_people,
        0..per_run,
        args.clients,
        Some(args.seconds),
    )
    .await?;
    eprintln!(
        "      spread: registrations over {SPREAD} sessions over HTTP, {} clients, {} s...",
        args.clients, args.seconds
    );
    let spread_run = register(
        &client,
        &url,
        &spread,
        &spread_people,
        warm_up..per_run,
        args.clients,
        Some(args.seconds),
    )
    .await?;
    let (hot_seated, hot_waiting): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'confirmed'), count(*) FILTER (WHERE status = 'waitlisted') \
         FROM registration WHERE session_id = $1",
    )
    .bind(hot[0])
    .fetch_one(&mut conn)
    .await?;
    conn.close().await?;
    stack.service("notifications").restart().await?;

    writeln!(
        report,
        "\n## Training registrations (HTTP, Idempotency-Key on each, a different customer per request; {statements} statements + BEGIN/COMMIT each: idempotency look-up, session read, admit (session row locked, seat or waitlist position, registration inserted), outbox insert, saved response; notifications, which consumes training events, paused)\n"
    )?;
    writeln!(
        report,
        "| measure | hot (one session) | spread ({SPREAD} sessions) |\n|---|---|---|"
    )?;
    writeln!(
        report,
        "| registrations/s ({} clients){} | {:.0} | {:.0} |",
        args.clients,
        if hot_run.ran_out || spread_run.ran_out {
            ", ran out of customers"
        } else {
            ""
        },
        hot_run.rate(),
        spread_run.rate()
    )?;
    writeln!(
        report,
        "| raw PostgreSQL, the same {statements} statements + BEGIN/COMMIT (pgbench, prepared, same tables and database) tx/s | {:.0} | {:.0} |",
        raw[0].0, raw[1].0
    )?;
    writeln!(
        report,
        "| ratio (target ≥ 50% spread; hot reported) | {:.0}% | {:.0}% |",
        100.0 * hot_run.rate() / raw[0].0,
        100.0 * spread_run.rate() / raw[1].0
    )?;
    writeln!(
        report,
        "| latency at full load p50 / p99 ms | {:.1} / {:.1} | {:.1} / {:.1} |",
        pct(&hot_run.lat, 0.50),
        pct(&hot_run.lat, 0.99),
        pct(&spread_run.lat, 0.50),
        pct(&spread_run.lat, 0.99)
    )?;
    writeln!(
        report,
        "| other answers | {} | {} |",
        hot_run.others_text(),
        spread_run.others_text()
    )?;
    writeln!(
        report,
        "| CPU busy: HTTP / pgbench | {:.0}% / {:.0}% | {:.0}% / {:.0}% |",
        hot_run.busy, raw[0].1, spread_run.busy, raw[1].1
    )?;
    writeln!(
        report,
        "| hot session after the run: confirmed / waitlisted (capacity {CAPACITY}) | {hot_seated} / {hot_waiting} | |"
    )?;
    writeln!(
        report,
        "| pgbench rows: registrations, outbox rows (both runs) | {}, {pg_outbox} | |",
        pg_regs - regs_before
    )?;
    Ok(())
}

fn customers(count: usize) -> Vec<String> {
    (0..count).map(|_| token(Uuid::new_v4(), Role::Customer)).collect()
}

/// Creates a customer training of `count` daily sessions starting tomorrow; their ids.
async fn create_sessions(client: &reqwest::Client, url: &str, count: usize) -> anyhow::Result<Vec<Uuid>> {
    let supervisor = token(Uuid::new_v4(), Role::Supervisor);
    let start = (chrono::Utc::now() + chrono::Duration::days(2))
        .date_naive()
        .and_hms_opt(10, 0, 0)
        .ok_or_else(|| anyhow::anyhow!("10:00 is a time"))?;
    let fmt = |t: chrono::NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%S+08:00").to_string();
    let mut body = json!({
        "kind": "customer_training",
        "title": "Parent onboarding",
        "audience": ["students"],
        "mode": "online",
        "meeting_url": "https://m.example/j/1",
        "starts_at": fmt(start),
        "ends_at": fmt(start + chrono::Duration::hours(1)),
        "time_zone": "Asia/Shanghai",
        "capacity": CAPACITY,
    });
    if count > 1 {
        body["recurrence"] = json!(format!("FREQ=DAILY;COUNT={count}"));
    }
    let res = client
        .post(format!("{url}/v1/trainings"))
        .bearer_auth(&supervisor)
        .json(&body)
        .send()
        .await?;
    let status = res.status();
    let v: Value = res.json().await?;
    anyhow::ensure!(status == 201, "POST /v1/trainings: {status}: {v}");
    v["sessions"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("no sessions in {v}"))?
        .iter()
        .map(|s| {
            s["id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| anyhow::anyhow!("session without id"))
        })
        .collect()
}

/// `clients` tasks registering person `i` of `range` (in order) for `sessions[i % len]`.
async fn register(
    client: &reqwest::Client,
    url: &str,
    sessions: &Arc<Vec<Uuid>>,
    people: &Arc<Vec<String>>,
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
        let (client, url, stop, next, sessions, people) = (
            client.clone(),
            url.to_owned(),
            stop.clone(),
            next.clone(),
            sessions.clone(),
            people.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut run = HttpRun::default();
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    run.ran_out = true;
                    break;
                }
                // Spread: a multiplicative step so neighbours in time land on different sessions.
                let s = sessions[(i.wrapping_mul(7919)) % sessions.len()];
                let t = Instant::now();
                let res = client
                    .post(format!("{url}/v1/sessions/{s}/registrations"))
                    .bearer_auth(&people[i])
                    .header("Idempotency-Key", Uuid::new_v4().to_string())
                    .json(&json!({}))
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

/// The payloads pgbench writes, from the warm-up's rows.
async fn sample_payloads(conn: &mut sqlx::PgConnection) -> anyhow::Result<Vec<(String, String)>> {
    let (event_type, envelope): (String, String) = sqlx::query_as(
        "SELECT event_type, envelope::text FROM outbox_event WHERE event_type LIKE 'training.registration.%' LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| anyhow::anyhow!("no registration event among the warm-up's rows"))?;
    let (fingerprint, response): (String, String) = sqlx::query_as(
        "SELECT fingerprint, response_body::text FROM idempotency_key WHERE scope LIKE 'registrations:%' LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| anyhow::anyhow!("no saved registration response among the warm-up's rows"))?;
    Ok(vec![
        ("event_type".into(), event_type),
        ("envelope".into(), envelope),
        ("fingerprint".into(), fingerprint),
        ("response".into(), response),
    ])
}

/// pgbench's sessions `PG_SESSION_PREFIX` + `BASE + j`, j in 0..=SPREAD (0: the hot one),
/// cloned from the service's session `template` (every column; same offering, occurrences far
/// past its own, no seat or waitlist position taken).
async fn seed_pgbench_sessions(conn: &mut sqlx::PgConnection, template: Uuid) -> anyhow::Result<()> {
    sqlx::query(&format!(
        "INSERT INTO session SELECT (jsonb_populate_record(s, jsonb_build_object( \
             'id', '{PG_SESSION_PREFIX}' || ({BASE} + j), 'occurrence', 1000000 + j, \
             'seats_taken', 0, 'waitlist_issued', 0))).* \
         FROM session s, generate_series(0, $2::bigint) j WHERE s.id = $1"
    ))
    .bind(template)
    .bind(SPREAD as i64)
    .execute(&mut *conn)
    .await?;
    sqlx::query("ANALYZE session").execute(&mut *conn).await?;
    Ok(())
}

/// Runs `script` with pgbench in prepared mode, as many clients as the run, `--seconds` long,
/// with `vars` (`-D`); its transactions per second. Any failed or aborted transaction fails.
fn pgbench(script: &str, url: &str, args: &Args, vars: &[(String, String)]) -> anyhow::Result<f64> {
    let path = std::env::temp_dir().join(format!("bench-training-{}.sql", Uuid::new_v4()));
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
