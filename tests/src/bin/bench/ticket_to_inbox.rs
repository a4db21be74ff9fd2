//! Ticket → inbox latency (intake → routing → notifications, two broker hops and three
//! transactions) at a steady rate vs one bare RabbitMQ publish → consume hop.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions};
use lapin::types::{FieldTable, ShortString};
use platform::auth::Role;
use serde_json::json;
use sqlx::Connection;
use system_tests::{Stack, token};
use uuid::Uuid;

use crate::Args;
use crate::support::{bind, confirmed_channel, consume, pct, quorum_queue};

/// Tickets at `--rate` for `--seconds`, then the bare hop at the same rate; writes its table.
pub async fn run(stack: &Stack, args: &Args, report: &mut String) -> anyhow::Result<()> {
    let e2e = committed_to_inbox(stack, args).await?;
    let hop = bare_hop(args.rate, args.seconds).await?;
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
    Ok(())
}

/// Tickets at a steady rate, one customer each; latency from the ticket's commit (intake's
/// clock) to the inbox delivery's commit (notifications' clock, the same server).
async fn committed_to_inbox(stack: &Stack, args: &Args) -> anyhow::Result<Vec<f64>> {
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

/// One confirmed publish → consume hop through a bare queue, at `rate` messages/s.
async fn bare_hop(rate: u64, seconds: u64) -> anyhow::Result<Vec<f64>> {
    let (conn, ch) = confirmed_channel().await?;
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
    bind(&ch, &queue, "bench.hop", "#").await?;
    let consumer_ch = conn.create_channel().await?;
    let mut consumer = consume(&consumer_ch, &queue, BasicConsumeOptions::default()).await?;
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
