//! A consumer whose Postgres or Redis goes away for longer than the whole retry schedule, under
//! a stream of events: it pauses instead of parking, and handles every event once when the
//! dependency answers again. The dependency is cut through a TCP proxy the test controls, so
//! the shared servers and other tests are untouched.

use std::time::Duration;

use contracts::{EventEnvelope, RawEnvelope};
use futures_util::future::BoxFuture;
use platform::bus::consumer::{ConsumerSpec, EventHandler, HandlerError};
use platform::bus::parking;
use platform::kv::Redis;
use platform::{Platform, db};
use testkit::proxy::TcpProxy;
use tokio_util::sync::CancellationToken;

use crate::helpers::{Ping, Proxied, count, proxied};

const EVENTS: u32 = 150;

/// Writes each event's id in Postgres (in the consumer's transaction) and in a Redis set.
struct Recorder {
    redis: Redis,
    set: String,
}

impl EventHandler for Recorder {
    fn handle<'a>(&'a self, tx: &'a mut db::Tx, event: &'a RawEnvelope) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            sqlx::query("INSERT INTO handled (event_id) VALUES ($1)")
                .bind(event.id)
                .execute(&mut **tx)
                .await?;
            let mut conn = self.redis.conn.clone();
            let _: i64 = redis::cmd("SADD")
                .arg(&self.set)
                .arg(event.id.to_string())
                .query_async(&mut conn)
                .await?;
            Ok(())
        })
    }
}

async fn publish(p: &Platform, n: u32) {
    let env = EventEnvelope::new("test", Ping { n }).into_raw().expect("raw");
    p.bus
        .publish_confirmed(&[platform::bus::Outgoing {
            exchange: p.bus.exchange(),
            routing_key: "test.ping",
            body: &serde_json::to_vec(&env).expect("json"),
            message_id: None,
            headers: Default::default(),
        }])
        .await
        .expect("publish");
}

/// Publishes a stream of events while `cut` is taken away for three seconds; every event
/// must then be handled once and none parked.
async fn survives_an_outage_of(label: &str, cut: impl Fn(&Proxied) -> &TcpProxy) {
    // A short retry schedule (100 ms, 200 ms): parked within about a second without the pause.
    let o = proxied(
        label,
        &[
            ("BUS__RETRY_DELAYS_MS", "100,200"),
            ("BUS__RECONNECT_MAX_DELAY_MS", "500"),
            ("BUS__CONSUMERS_PER_QUEUE", "2"),
            ("DATABASE__ACQUIRE_TIMEOUT_MS", "300"),
            ("REDIS__RESPONSE_TIMEOUT_MS", "300"),
        ],
    )
    .await;
    let p = &o.platform;
    sqlx::query("CREATE TABLE handled (event_id UUID PRIMARY KEY)")
        .execute(&p.pool)
        .await
        .expect("table");
    let set = p.redis.keys.key(&["handled"]);
    let consumer = p.consumer(
        ConsumerSpec::new("pings", &["test.ping"]),
        Recorder {
            redis: p.redis.clone(),
            set: set.clone(),
        },
    );
    consumer.declare().await.expect("declare");
    let queues = consumer.queues().clone();
    let cancel = CancellationToken::new();
    tokio::spawn(consumer.run(cancel.clone()));

    let publisher = {
        let p = p.clone();
        tokio::spawn(async move {
            for n in 0..EVENTS {
                publish(&p, n).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    cut(&o).cut();
    tokio::time::sleep(Duration::from_secs(3)).await;
    cut(&o).restore();
    publisher.await.expect("publisher");

    testkit::eventually(60, "every event handled", || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM handled")
            .fetch_one(&p.pool)
            .await
            .unwrap_or(0);
        Ok((n == i64::from(EVENTS)).then_some(()))
    })
    .await
    .expect("handled after the outage");
    cancel.cancel();
    assert_eq!(
        count(&p.pool, "SELECT count(DISTINCT event_id) FROM handled").await,
        i64::from(EVENTS)
    );
    let mut conn = p.redis.conn.clone();
    let in_redis: i64 = redis::cmd("SCARD")
        .arg(&set)
        .query_async(&mut conn)
        .await
        .expect("scard");
    assert_eq!(in_redis, i64::from(EVENTS));
    assert_eq!(
        parking::parked(&p.bus, &queues).await.expect("parked"),
        0,
        "nothing parked"
    );
    assert_eq!(
        p.metrics
            .bus_consumed
            .with_label_values(&[queues.main.as_str(), "parked"])
            .get(),
        0
    );
    assert!(
        p.metrics
            .bus_consumer_paused
            .with_label_values(&[queues.main.as_str(), label])
            .get()
            >= 1,
        "the consumer paused for {label}"
    );
}

#[tokio::test]
async fn a_postgres_outage_longer_than_the_retry_schedule_pauses_the_consumer_and_parks_nothing() {
    survives_an_outage_of("postgres", |o| &o.postgres).await;
}

#[tokio::test]
async fn a_redis_outage_longer_than_the_retry_schedule_pauses_the_consumer_and_parks_nothing() {
    survives_an_outage_of("redis", |o| &o.redis).await;
}
