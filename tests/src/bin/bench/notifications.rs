//! Notifications, one instance: deliveries per second into the in-app inbox and into an HTTP
//! webhook sink (signed), from a backlog, vs bare RabbitMQ publish + consume of as many
//! messages; event published → inbox delivery latency at 1,000 events/s.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions};
use lapin::types::ShortString;
use platform::auth::Role;
use serde_json::json;
use sqlx::Connection;
use system_tests::{Stack, token};
use uuid::Uuid;

use crate::Args;
use crate::support::{confirmed_channel, consume, epoch_ms, pct, quorum_queue};

/// A CloudEvents envelope of `event_type` with `data`, as producers write them.
fn envelope(id: Uuid, event_type: &str, data: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"specversion": "1.0", "id": id, "source": "/bench", "type": event_type,
        "time": chrono::Utc::now(), "datacontenttype": "application/json",
        "dataschema": format!("urn:edu-support:{event_type}:v1"), "data": data}),
    )
    .unwrap_or_default()
}

/// A `routing.ticket.queued` payload for `customer`.
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
    let (conn, ch) = confirmed_channel().await?;
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
        let mut consumer = consume(&consumer_ch, &queue, BasicConsumeOptions::default()).await?;
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

/// Inbox and webhook deliveries per second from a backlog vs bare RabbitMQ, then published →
/// inbox latency at 1,000 events/s, with intake and routing stopped; writes its table.
pub async fn run(stack: &mut Stack, args: &Args, report: &mut String) -> anyhow::Result<()> {
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

    let (conn, ch) = confirmed_channel().await?;

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
