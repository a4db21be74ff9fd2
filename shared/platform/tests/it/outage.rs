//! A consumer whose Postgres or Redis goes away for longer than the whole retry schedule, under
//! a stream of events: it pauses instead of parking, and handles every event once when the
//! dependency answers again. The dependency is cut through a TCP proxy the test controls, so
//! the shared servers and other tests are untouched.

use std::collections::HashMap;
use std::time::Duration;

use contracts::{EventEnvelope, RawEnvelope};
use futures_util::future::BoxFuture;
use platform::bus::consumer::{ConsumerSpec, EventHandler, HandlerError};
use platform::bus::parking;
use platform::config::{Settings, load_from};
use platform::kv::Redis;
use platform::{Platform, db};
use testkit::Isolation;
use testkit::proxy::TcpProxy;
use tokio_util::sync::CancellationToken;

use crate::helpers::{NO_MIGRATIONS, Own, Ping, count};

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

struct Outage {
    platform: Platform,
    postgres: TcpProxy,
    redis: TcpProxy,
    set: String,
}

/// A platform whose Postgres and Redis connections go through proxies, with a short retry
/// schedule (100 ms, 200 ms: parked within about a second without the pause).
async fn outage_platform(label: &str) -> Outage {
    platform::telemetry::init_for_tests();
    let mut vars: HashMap<String, String> = Isolation::new().service_env("PT", label).await.expect("env");
    let postgres = TcpProxy::start("127.0.0.1:5432").await.expect("postgres proxy");
    let redis = TcpProxy::start("127.0.0.1:6379").await.expect("redis proxy");
    let db_url = postgres.url_through(&vars["PT__DATABASE__URL"], "127.0.0.1:5432");
    let redis_url = redis.url_through(&vars["PT__REDIS__URL"], "127.0.0.1:6379");
    for (k, v) in [
        ("PT__DATABASE__URL", db_url.as_str()),
        ("PT__REDIS__URL", redis_url.as_str()),
        ("PT__BUS__RETRY_DELAYS_MS", "100,200"),
        ("PT__BUS__RECONNECT_MAX_DELAY_MS", "500"),
        ("PT__BUS__CONSUMERS_PER_QUEUE", "2"),
        ("PT__DATABASE__ACQUIRE_TIMEOUT_MS", "300"),
        ("PT__REDIS__RESPONSE_TIMEOUT_MS", "300"),
    ] {
        vars.insert(k.to_owned(), v.to_owned());
    }
    let settings: Settings<Own> =
        load_from("PT", "[service]\nname = \"platform-test\"\n", &[], &vars).expect("settings");
    let platform = Platform::connect("platform-test", &settings, &NO_MIGRATIONS)
        .await
        .expect("connect");
    sqlx::query("CREATE TABLE handled (event_id UUID PRIMARY KEY)")
        .execute(&platform.pool)
        .await
        .expect("table");
    let set = platform.redis.keys.key(&["handled"]);
    Outage {
        platform,
        postgres,
        redis,
        set,
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
async fn survives_an_outage_of(label: &str, cut: impl Fn(&Outage) -> &TcpProxy) {
    let o = outage_platform(label).await;
    let p = &o.platform;
    let consumer = p.consumer(
        ConsumerSpec::new("pings", &["test.ping"]),
        Recorder {
            redis: p.redis.clone(),
            set: o.set.clone(),
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
        .arg(&o.set)
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
