//! `intake.ticket.created` published → offer: tickets published as intake publishes them, at a
//! steady rate, offered by the two replicas' dispatchers to agents with the skill.

use std::sync::Arc;
use std::time::Duration;

use contracts::TicketId;
use contracts::intake::TicketCreatedV1;
use contracts::routing::TicketOfferedV1;
use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, QueueDeclareOptions};
use lapin::types::{FieldTable, ShortString};
use system_tests::Stack;
use uuid::Uuid;

use crate::support::{bind, confirmed_channel, consume, epoch_ms};

/// Publishes `intake.ticket.created` (technical, web) at `rate`/s for `seconds`; latencies (ms,
/// sorted) from each publish to its offer's `offered_at` and to the `routing.ticket.offered`
/// event arriving, and the first of them again for tickets published after the first second
/// (steady state: pools and caches warm).
pub async fn created_to_offer(
    stack: &Stack,
    rate: u64,
    seconds: u64,
) -> anyhow::Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    let exchange = stack
        .services
        .iter()
        .find(|s| s.name == "routing")
        .and_then(|s| s.setting("BUS__EXCHANGE"))
        .ok_or_else(|| anyhow::anyhow!("no exchange"))?
        .to_owned();
    let (conn, ch) = confirmed_channel().await?;
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
    bind(&ch, &queue, &exchange, "routing.ticket.offered").await?;
    let mut consumer = consume(
        &ch,
        &queue,
        BasicConsumeOptions {
            no_ack: true,
            ..Default::default()
        },
    )
    .await?;
    let sent: Arc<std::sync::Mutex<std::collections::HashMap<TicketId, f64>>> = Arc::default();
    let total = rate * seconds;
    let receiver = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let (mut to_offer, mut to_event) = (Vec::new(), Vec::new());
            let mut steady = Vec::new();
            while let Ok(Some(Ok(d))) = tokio::time::timeout(Duration::from_secs(15), consumer.next()).await {
                let arrived = epoch_ms();
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
                ticket_id: TicketId::new(),
                customer_id: Uuid::new_v4().into(),
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
            m.insert(env.data.ticket_id, epoch_ms());
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
