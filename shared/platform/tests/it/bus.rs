use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use contracts::{EventEnvelope, RawEnvelope};
use futures_util::future::BoxFuture;
use platform::Tx;
use platform::bus::HeaderValue;
use platform::bus::consumer::{ConsumerSpec, EventHandler, HandlerError};
use platform::bus::{Outgoing, read_headers};
use tokio_util::sync::CancellationToken;

use crate::helpers::{Ping, count, platform, take, tap};

#[tokio::test]
async fn an_event_is_published_if_and_only_if_its_transaction_commits() {
    let t = platform("outbox", &[]).await;
    let p = &t.platform;
    let (ch, queue) = tap(p, "test.#").await;

    let mut tx = p.pool.begin().await.expect("begin");
    p.outbox.stage(&mut tx, Ping { n: 1 }).await.expect("stage");
    tx.rollback().await.expect("rollback");
    assert_eq!(p.outbox.drain().await.expect("drain"), 0);

    let span = tracing::info_span!("request");
    let (id, trace_id) = {
        let _e = span.enter();
        let mut tx = p.pool.begin().await.expect("begin");
        let id = p.outbox.stage(&mut tx, Ping { n: 2 }).await.expect("stage");
        p.outbox.commit(tx).await.expect("commit");
        (id, platform::telemetry::current_trace_id().expect("trace"))
    };
    assert_eq!(p.outbox.drain().await.expect("drain"), 1);

    let msg = take(&ch, &queue, 5).await.expect("the committed event arrives");
    let env = RawEnvelope::from_slice(&msg.delivery.data).expect("envelope");
    assert_eq!(env.id, id);
    assert_eq!(env.decode::<Ping>().expect("decode").data, Ping { n: 2 });
    let headers = read_headers(&msg.delivery.properties);
    let tp = headers
        .get("traceparent")
        .and_then(HeaderValue::as_text)
        .expect("traceparent header");
    assert_eq!(platform::telemetry::trace_id_of(tp), Some(trace_id.as_str()));
    assert!(
        take(&ch, &queue, 1).await.is_none(),
        "the rolled-back event never arrives"
    );
    assert_eq!(
        count(&p.pool, "SELECT count(*) FROM outbox_event WHERE published_at IS NULL").await,
        0
    );
}

#[tokio::test]
async fn a_relayed_batch_arrives_whole_and_in_order() {
    let t = platform("outbox-order", &[]).await;
    let p = &t.platform;
    let (ch, queue) = tap(p, "test.#").await;
    // More than one relay batch (200), each published in one go.
    let n = 450u32;
    let mut tx = p.pool.begin().await.expect("begin");
    for i in 0..n {
        p.outbox.stage(&mut tx, Ping { n: i }).await.expect("stage");
    }
    p.outbox.commit(tx).await.expect("commit");
    assert_eq!(p.outbox.drain().await.expect("drain"), n as usize);
    let mut seen = Vec::new();
    while let Some(msg) = take(&ch, &queue, 5).await {
        let env = RawEnvelope::from_slice(&msg.delivery.data).expect("envelope");
        seen.push(env.decode::<Ping>().expect("decode").data.n);
        if seen.len() == n as usize {
            break;
        }
    }
    assert_eq!(seen, (0..n).collect::<Vec<_>>(), "every event, in the order written");
    assert_eq!(
        count(&p.pool, "SELECT count(*) FROM outbox_event WHERE published_at IS NULL").await,
        0
    );
}

#[tokio::test]
async fn the_relay_keeps_events_while_the_broker_is_unreachable() {
    let t = platform("outbox-down", &[]).await;
    let p = &t.platform;
    let mut tx = p.pool.begin().await.expect("begin");
    p.outbox.stage(&mut tx, Ping { n: 3 }).await.expect("stage");
    tx.commit().await.expect("commit");
    // A bus pointing at a closed port: relaying fails and the row stays unpublished.
    let mut broken = t.settings.bus.clone();
    broken.url = secrecy::SecretString::from("amqp://guest:guest@127.0.0.1:1/%2f");
    let broken_bus = platform::bus::Bus::new(&broken, "platform-test");
    let outbox = platform::bus::outbox::Outbox::new(
        "platform-test",
        p.pool.clone(),
        broken_bus,
        p.metrics.clone(),
        t.settings.outbox.clone(),
        p.clock.clone(),
    );
    assert!(outbox.relay_once().await.is_err());
    assert_eq!(
        count(
            &p.pool,
            "SELECT count(*) FROM outbox_event WHERE published_at IS NULL AND attempts = 1"
        )
        .await,
        1
    );
    // The healthy relay publishes it afterwards.
    assert_eq!(p.outbox.drain().await.expect("drain"), 1);
}

/// Records each event's `n` in a table, in the consumer's transaction; fails when asked to.
struct Recorder {
    calls: Arc<AtomicUsize>,
    fail: Option<fn() -> HandlerError>,
}

impl EventHandler for Recorder {
    fn handle<'a>(&'a self, tx: &'a mut Tx, event: &'a RawEnvelope) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let ping = event.decode::<Ping>()?;
            sqlx::query("INSERT INTO effect (n) VALUES ($1)")
                .bind(i64::from(ping.data.n))
                .execute(&mut **tx)
                .await?;
            match self.fail {
                Some(f) => Err(f()),
                None => Ok(()),
            }
        })
    }
}

async fn publish_raw(p: &platform::Platform, body: &[u8]) {
    p.bus
        .publish_confirmed(&[Outgoing {
            exchange: p.bus.exchange(),
            routing_key: "test.ping",
            body,
            message_id: None,
            headers: Default::default(),
        }])
        .await
        .expect("publish");
}

async fn with_consumer(
    p: &platform::Platform,
    recorder: Recorder,
) -> (CancellationToken, platform::bus::topology::ConsumerQueues) {
    sqlx::query("CREATE TABLE IF NOT EXISTS effect (n BIGINT NOT NULL)")
        .execute(&p.pool)
        .await
        .expect("table");
    let consumer = p.consumer(ConsumerSpec::new("pings", &["test.ping"]), recorder);
    consumer.declare().await.expect("declare");
    let queues = consumer.queues().clone();
    let cancel = CancellationToken::new();
    tokio::spawn(consumer.run(cancel.clone()));
    (cancel, queues)
}

/// A consumer counting its handler's calls (and failing with `fail`, if given), running.
async fn recording(
    p: &platform::Platform,
    fail: Option<fn() -> HandlerError>,
) -> (
    Arc<AtomicUsize>,
    CancellationToken,
    platform::bus::topology::ConsumerQueues,
) {
    let calls = Arc::new(AtomicUsize::new(0));
    let (cancel, queues) = with_consumer(
        p,
        Recorder {
            calls: calls.clone(),
            fail,
        },
    )
    .await;
    (calls, cancel, queues)
}

fn consumed(p: &platform::Platform, queue: &str, outcome: &str) -> u64 {
    p.metrics.bus_consumed.with_label_values(&[queue, outcome]).get()
}

#[tokio::test]
async fn the_same_event_delivered_twice_has_one_effect() {
    let t = platform("dedupe", &[]).await;
    let p = &t.platform;
    let (_calls, cancel, queues) = recording(p, None).await;
    let env = EventEnvelope::new("test", Ping { n: 7 }).into_raw().expect("raw");
    let body = serde_json::to_vec(&env).expect("json");
    publish_raw(p, &body).await;
    publish_raw(p, &body).await;
    testkit::eventually(10, "both deliveries consumed", || async {
        Ok((consumed(p, &queues.main, "handled") + consumed(p, &queues.main, "duplicate") == 2).then_some(()))
    })
    .await
    .expect("consumed");
    cancel.cancel();
    assert_eq!(consumed(p, &queues.main, "handled"), 1);
    assert_eq!(consumed(p, &queues.main, "duplicate"), 1);
    assert_eq!(count(&p.pool, "SELECT count(*) FROM effect WHERE n = 7").await, 1);
    assert_eq!(count(&p.pool, "SELECT count(*) FROM processed_event").await, 1);
}

#[tokio::test]
async fn a_handler_that_keeps_failing_ends_in_the_parking_queue_after_the_configured_attempts() {
    // Two retry delays configured: three attempts in all.
    let t = platform("parking", &[("BUS__RETRY_DELAYS_MS", "100,300")]).await;
    let p = &t.platform;
    let (calls, cancel, queues) = recording(
        p,
        Some(|| HandlerError::Retry(anyhow::anyhow!("downstream unavailable"))),
    )
    .await;
    let env = EventEnvelope::new("test", Ping { n: 9 }).into_raw().expect("raw");
    publish_raw(p, &serde_json::to_vec(&env).expect("json")).await;

    let ch = p.bus.channel().await.expect("channel");
    let parked = take(&ch, &queues.parking, 15).await.expect("parked message");
    cancel.cancel();
    assert_eq!(calls.load(Ordering::SeqCst), 3, "first try plus one per retry delay");
    let headers = read_headers(&parked.delivery.properties);
    assert_eq!(headers.get("x-attempt").and_then(HeaderValue::as_int), Some(3));
    assert!(
        headers
            .get("x-last-error")
            .and_then(HeaderValue::as_text)
            .is_some_and(|e| e.contains("downstream unavailable"))
    );
    let back = RawEnvelope::from_slice(&parked.delivery.data).expect("envelope");
    assert_eq!(back.id, env.id, "the parked message is the original event");
    assert_eq!(
        count(&p.pool, "SELECT count(*) FROM effect").await,
        0,
        "failed attempts left no effect"
    );
    assert_eq!(consumed(p, &queues.main, "retried"), 2);
    assert_eq!(consumed(p, &queues.main, "parked"), 1);
}

#[tokio::test]
async fn an_undecodable_message_is_parked_at_once() {
    let t = platform("poison", &[]).await;
    let p = &t.platform;
    let (calls, cancel, queues) = recording(p, None).await;
    publish_raw(p, b"{not json").await;
    let ch = p.bus.channel().await.expect("channel");
    assert!(take(&ch, &queues.parking, 10).await.is_some());
    cancel.cancel();
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn consumers_and_the_relay_carry_on_after_the_broker_connection_drops() {
    let t = platform("reconnect", &[]).await;
    let p = &t.platform;
    let (_calls, cancel, queues) = recording(p, None).await;
    let first = EventEnvelope::new("test", Ping { n: 1 }).into_raw().expect("raw");
    publish_raw(p, &serde_json::to_vec(&first).expect("json")).await;
    testkit::eventually(10, "the first event handled", || async {
        Ok((consumed(p, &queues.main, "handled") == 1).then_some(()))
    })
    .await
    .expect("first");

    // The connection drops (as when the broker restarts): every channel on it dies.
    let conn = p.bus.connection().await.expect("connection");
    conn.close(320, lapin::types::ShortString::from("connection forced"))
        .await
        .expect("close");
    assert!(!p.bus.is_connected().await);

    // An event committed meanwhile waits in the outbox and is relayed on a new connection;
    // the consumers reconnect and handle it.
    let mut tx = p.pool.begin().await.expect("begin");
    p.outbox.stage(&mut tx, Ping { n: 2 }).await.expect("stage");
    tx.commit().await.expect("commit");
    testkit::eventually(20, "the relay reconnects", || async {
        Ok((p.outbox.drain().await.is_ok()).then_some(()))
    })
    .await
    .expect("relayed");
    testkit::eventually(20, "the consumer reconnects and handles the second event", || async {
        Ok((consumed(p, &queues.main, "handled") == 2).then_some(()))
    })
    .await
    .expect("second");
    cancel.cancel();
    assert_eq!(count(&p.pool, "SELECT count(*) FROM effect").await, 2);
}

/// Rejects the event whose `n` is 13; records every other one.
struct AllBut13;

impl EventHandler for AllBut13 {
    fn handle<'a>(&'a self, tx: &'a mut Tx, event: &'a RawEnvelope) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let n = event.decode::<Ping>()?.data.n;
            sqlx::query("INSERT INTO effect (n) VALUES ($1)")
                .bind(i64::from(n))
                .execute(&mut **tx)
                .await?;
            if n == 13 {
                return Err(HandlerError::Reject(anyhow::anyhow!("thirteen")));
            }
            Ok(())
        })
    }
}

#[tokio::test]
async fn a_batched_consumer_commits_many_events_at_once_and_isolates_a_bad_one() {
    let t = platform("batch", &[("BUS__CONSUMERS_PER_QUEUE", "1")]).await;
    let p = &t.platform;
    sqlx::query("CREATE TABLE effect (n BIGINT NOT NULL)")
        .execute(&p.pool)
        .await
        .expect("table");
    let consumer = p.consumer(ConsumerSpec::new("batched", &["test.ping"]).batched(16), AllBut13);
    consumer.declare().await.expect("declare");
    let queues = consumer.queues().clone();
    // The backlog is waiting before the consumer starts, so batches fill up.
    for n in 0..50 {
        let env = EventEnvelope::new("test", Ping { n }).into_raw().expect("raw");
        publish_raw(p, &serde_json::to_vec(&env).expect("json")).await;
    }
    let cancel = CancellationToken::new();
    tokio::spawn(consumer.run(cancel.clone()));
    let ch = p.bus.channel().await.expect("channel");
    let parked = take(&ch, &queues.parking, 15).await.expect("the bad one parked");
    testkit::eventually(10, "the others handled", || async {
        Ok((consumed(p, &queues.main, "handled") == 49).then_some(()))
    })
    .await
    .expect("handled");
    cancel.cancel();
    let back = RawEnvelope::from_slice(&parked.delivery.data).expect("envelope");
    assert_eq!(back.decode::<Ping>().expect("ping").data.n, 13);
    assert_eq!(count(&p.pool, "SELECT count(DISTINCT n) FROM effect").await, 49);
    assert_eq!(
        count(&p.pool, "SELECT count(*) FROM effect WHERE n = 13").await,
        0,
        "its effect rolled back"
    );
    assert_eq!(count(&p.pool, "SELECT count(*) FROM processed_event").await, 49);
    let transactions = count(&p.pool, "SELECT count(DISTINCT xmin::text) FROM processed_event").await;
    assert!(transactions < 49, "49 events in {transactions} transactions");
}

#[tokio::test]
async fn a_sequenced_event_carries_its_number_and_the_clock_time_to_consumers() {
    let t = platform(
        "sequenced",
        &[("CLOCK__MODE", "manual"), ("CLOCK__START", "2026-03-01T09:00:00Z")],
    )
    .await;
    let p = &t.platform;
    let (ch, queue) = tap(p, "test.#").await;
    let mut tx = p.pool.begin().await.expect("begin");
    p.outbox
        .stage_sequenced(&mut tx, Ping { n: 5 }, 42)
        .await
        .expect("stage");
    tx.commit().await.expect("commit");
    assert_eq!(p.outbox.drain().await.expect("drain"), 1);
    let got = take(&ch, &queue, 10).await.expect("relayed");
    let env = RawEnvelope::from_slice(&got.delivery.data).expect("envelope");
    assert_eq!(env.subjectseq, Some(42));
    assert_eq!(env.time.to_rfc3339(), "2026-03-01T09:00:00+00:00");
}
