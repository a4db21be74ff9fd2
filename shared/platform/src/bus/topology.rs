//! Exchange and queue declarations. Every declaration is idempotent and runs at start-up and
//! after every reconnect.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};

/// The queues behind one consumer.
#[derive(Debug, Clone)]
pub struct ConsumerQueues {
    /// The work queue (quorum), bound to the exchange by the consumer's patterns.
    pub main: String,
    /// One delay queue per retry step; expired messages dead-letter back to `main`.
    pub retries: Vec<(String, u64)>,
    /// Where messages go after the last attempt, for an operator to inspect and replay.
    pub parking: String,
}

impl ConsumerQueues {
    pub fn new(prefix: &str, consumer: &str, retry_delays_ms: &[u64]) -> Self {
        let main = format!("{prefix}.{consumer}");
        let retries = retry_delays_ms
            .iter()
            .enumerate()
            .map(|(i, ms)| (format!("{main}.retry.{}", i + 1), *ms))
            .collect();
        Self {
            parking: format!("{main}.parking"),
            retries,
            main,
        }
    }
}

/// How long an unused queue of an ephemeral topology lives: long enough for a test to restart
/// a service, short enough that a test run's finished tests do not pile up queues (each holds
/// broker file handles, of which a stock broker has under a thousand).
const EPHEMERAL_QUEUE_EXPIRES_MS: i64 = 60_000;

pub async fn declare_exchange(channel: &Channel, exchange: &str, ephemeral: bool) -> lapin::Result<()> {
    channel
        .exchange_declare(
            ShortString::from(exchange),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                auto_delete: ephemeral,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
}

fn queue_args(ephemeral: bool) -> FieldTable {
    let mut args = FieldTable::default();
    if ephemeral {
        args.insert(
            ShortString::from("x-expires"),
            AMQPValue::LongLongInt(EPHEMERAL_QUEUE_EXPIRES_MS),
        );
    }
    args
}

/// Declares the exchange, the consumer's queues and the bindings of `patterns`.
pub async fn declare_consumer(
    channel: &Channel,
    exchange: &str,
    queues: &ConsumerQueues,
    patterns: &[String],
    ephemeral: bool,
) -> lapin::Result<()> {
    declare_exchange(channel, exchange, ephemeral).await?;
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let mut quorum = queue_args(ephemeral);
    quorum.insert(
        ShortString::from("x-queue-type"),
        AMQPValue::LongString(LongString::from("quorum")),
    );
    channel
        .queue_declare(ShortString::from(queues.main.as_str()), durable, quorum.clone())
        .await?;
    channel
        .queue_declare(ShortString::from(queues.parking.as_str()), durable, quorum)
        .await?;
    for (name, delay_ms) in &queues.retries {
        let mut args = queue_args(ephemeral);
        args.insert(
            ShortString::from("x-message-ttl"),
            AMQPValue::LongLongInt(i64::try_from(*delay_ms).unwrap_or(i64::MAX)),
        );
        args.insert(
            ShortString::from("x-dead-letter-exchange"),
            AMQPValue::LongString(LongString::from("")),
        );
        args.insert(
            ShortString::from("x-dead-letter-routing-key"),
            AMQPValue::LongString(LongString::from(queues.main.clone())),
        );
        channel
            .queue_declare(ShortString::from(name.as_str()), durable, args)
            .await?;
    }
    for pattern in patterns {
        channel
            .queue_bind(
                ShortString::from(queues.main.as_str()),
                ShortString::from(exchange),
                ShortString::from(pattern.as_str()),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_follow_the_consumer() {
        let q = ConsumerQueues::new("routing", "ticket-created", &[1000, 5000]);
        assert_eq!(q.main, "routing.ticket-created");
        assert_eq!(q.parking, "routing.ticket-created.parking");
        assert_eq!(q.retries[1], ("routing.ticket-created.retry.2".to_owned(), 5000));
    }
}
