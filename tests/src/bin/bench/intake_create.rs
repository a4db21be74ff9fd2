//! Ticket creation through intake (HTTP, validation, classification, duplicate check,
//! knowledge-base match, ticket + outbox insert in one transaction) vs pgbench doing the same
//! two inserts per transaction on the same schema; then request latency at half the measured
//! rate, and routing and notifications catching up on the backlog.

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
use crate::support::{pct, pgbench_two_inserts};

/// Runs the benchmark with routing and notifications paused, then lets them drain the backlog;
/// writes its table.
pub async fn run(stack: &mut Stack, args: &Args, report: &mut String) -> anyhow::Result<()> {
    let raw_tps = pgbench_two_inserts(args).await?;
    seed_knowledge_base(stack).await?;
    // Intake alone: routing and notifications wait (their queues keep the events), so the
    // figure is intake's, not the whole pipeline's sharing two cores.
    stack.service("routing").stop().await?;
    stack.service("notifications").stop().await?;
    // Like for like with pgbench: the ticket and its outbox row (no Idempotency-Key); then
    // with a key on every request (a third row per ticket, as careful API clients send).
    let (tickets, lat) = create_tickets(stack, args, false).await?;
    let tps = tickets as f64 / args.seconds as f64;
    let (keyed, keyed_lat) = create_tickets(stack, args, true).await?;
    let keyed_tps = keyed as f64 / args.seconds as f64;
    let half = (tps / 2.0).max(1.0) as u64;
    eprintln!(
        "      {tickets} + {keyed} tickets created; request latency at half the first rate ({half} tickets/s)..."
    );
    let paced = paced_creates(stack, half, args.seconds).await?;
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
    let drained = wait_drained(stack).await?;
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
    Ok(())
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

/// The labelled bilingual tickets (subject, body) the classification test uses.
fn dataset() -> &'static [(String, String)] {
    static DATA: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
    DATA.get_or_init(|| {
        include_str!("../../../../services/intake/tests/data/labelled_tickets.tsv")
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
