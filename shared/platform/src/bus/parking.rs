//! The parking queues: messages whose handler failed for the last time wait there for an
//! operator, who can count them and, once the cause is fixed, move them back to be handled
//! again (with a fresh attempt count).

use lapin::options::{BasicAckOptions, BasicGetOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::{FieldTable, ShortString};

use super::consumer::ATTEMPT_HEADER;
use super::topology::ConsumerQueues;
use super::{Bus, HeaderValue, Outgoing, publish_on, read_headers};

/// Header counting how often a message was replayed from parking.
pub const REPLAYED_HEADER: &str = "x-replayed";

/// Whether `e` is the broker saying the queue does not exist (it is declared with its
/// consumer, and test queues expire unused): nothing is parked there.
fn is_missing_queue(e: &lapin::Error) -> bool {
    e.to_string().contains("NOT_FOUND")
}

/// How many messages wait in a consumer's parking queue (0 when it does not exist).
pub async fn parked(bus: &Bus, queues: &ConsumerQueues) -> anyhow::Result<u32> {
    let channel = bus.channel().await?;
    let queue = match channel
        .queue_declare(
            ShortString::from(queues.parking.as_str()),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
    {
        Ok(queue) => queue,
        Err(e) if is_missing_queue(&e) => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let _ = channel.close(200, ShortString::from("done")).await;
    Ok(queue.message_count())
}

/// Moves up to `limit` parked messages back to the consumer's queue; returns how many. Each is
/// republished (confirmed) before it is removed from parking, so none is lost.
pub async fn replay(bus: &Bus, queues: &ConsumerQueues, limit: u32) -> anyhow::Result<u32> {
    let channel = bus.channel().await?;
    channel.confirm_select(ConfirmSelectOptions::default()).await?;
    let mut moved = 0;
    while moved < limit {
        let got = match channel
            .basic_get(
                ShortString::from(queues.parking.as_str()),
                BasicGetOptions { no_ack: false },
            )
            .await
        {
            Ok(got) => got,
            Err(e) if moved == 0 && is_missing_queue(&e) => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        let Some(message) = got else {
            break;
        };
        let delivery = message.delivery;
        let mut headers = read_headers(&delivery.properties);
        let replays = headers.get(REPLAYED_HEADER).and_then(HeaderValue::as_int).unwrap_or(0);
        headers.insert(REPLAYED_HEADER.to_owned(), HeaderValue::Int(replays + 1));
        headers.insert(ATTEMPT_HEADER.to_owned(), HeaderValue::Int(1));
        let message_id = delivery.properties.message_id().as_ref().map(|s| s.as_str().to_owned());
        publish_on(
            &channel,
            &[Outgoing {
                exchange: "",
                routing_key: &queues.main,
                body: &delivery.data,
                message_id: message_id.as_deref(),
                headers,
            }],
        )
        .await?;
        delivery.ack(BasicAckOptions::default()).await?;
        moved += 1;
    }
    let _ = channel.close(200, ShortString::from("done")).await;
    if moved > 0 {
        tracing::info!(queue = %queues.main, moved, "replayed parked messages");
    }
    Ok(moved)
}
