//! Readiness that means "can serve", timeouts on the broker and the database, and handlers or
//! loops that panic without taking the consumer down.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use contracts::{EventEnvelope, RawEnvelope};
use futures_util::future::BoxFuture;
use platform::Application;
use platform::bus::Outgoing;
use platform::bus::consumer::{ConsumerSpec, EventHandler, HandlerError};
use platform::bus::parking;
use platform::http::Api;
use serde_json::Value;
use testkit::proxy::TcpProxy;
use tokio_util::sync::CancellationToken;

use crate::helpers::{Ping, Proxied, count, platform, proxied};

async fn serve(p: &Proxied) -> String {
    let api = Api::new(utoipa::openapi::OpenApiBuilder::new().build(), |_| {});
    let app = Application::build(p.platform.clone(), &p.settings, api, vec![])
        .await
        .expect("build");
    let url = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    url
}

async fn readyz(url: &str) -> (u16, Value) {
    let res = reqwest::get(format!("{url}/readyz")).await.expect("readyz");
    (res.status().as_u16(), res.json().await.expect("json"))
}

/// Readiness is polled until it settles, as Kubernetes polls it.
async fn settles(url: &str, status: u16, body_status: &str) -> Value {
    testkit::eventually(15, &format!("readyz {status} {body_status}"), || async {
        let (s, body) = readyz(url).await;
        Ok((s == status && body["status"] == body_status).then_some(body))
    })
    .await
    .expect("readiness settles")
}

#[tokio::test]
async fn a_service_stays_ready_without_the_broker_or_redis_and_is_not_ready_without_postgres() {
    let p = proxied("ready", &[("DATABASE__ACQUIRE_TIMEOUT_MS", "500")]).await;
    let url = serve(&p).await;
    settles(&url, 200, "ready").await;

    p.broker.cut();
    let body = settles(&url, 200, "degraded").await;
    assert_eq!(body["checks"]["rabbitmq"]["status"], "failing", "{body}");
    assert_eq!(body["checks"]["postgres"]["status"], "ok", "{body}");
    p.broker.restore();
    settles(&url, 200, "ready").await;

    p.redis.cut();
    let body = settles(&url, 200, "degraded").await;
    assert_eq!(body["checks"]["redis"]["status"], "failing", "{body}");
    p.redis.restore();
    settles(&url, 200, "ready").await;

    p.postgres.cut();
    let body = settles(&url, 503, "not_ready").await;
    assert_eq!(body["checks"]["postgres"]["status"], "failing", "{body}");
    p.postgres.restore();
    settles(&url, 200, "ready").await;
}

#[tokio::test]
async fn a_statement_or_an_idle_transaction_past_its_timeout_is_ended_by_postgres() {
    let t = platform(
        "pgtimeouts",
        &[
            ("DATABASE__STATEMENT_TIMEOUT_MS", "200"),
            ("DATABASE__IDLE_IN_TRANSACTION_TIMEOUT_MS", "300"),
        ],
    )
    .await;
    let pool = &t.platform.pool;
    let started = std::time::Instant::now();
    let slow = sqlx::query("SELECT pg_sleep(5)").execute(pool).await;
    let code = slow
        .expect_err("cancelled")
        .as_database_error()
        .and_then(|e| e.code().map(|c| c.into_owned()));
    assert_eq!(code.as_deref(), Some("57014"), "query_canceled");
    assert!(started.elapsed() < Duration::from_secs(3));

    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("SELECT 1")
        .execute(&mut *tx)
        .await
        .expect("first statement");
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(
        sqlx::query("SELECT 1").execute(&mut *tx).await.is_err(),
        "the idle transaction was ended"
    );
}

#[tokio::test]
async fn a_broker_that_hangs_fails_connects_and_publishes_within_their_timeouts() {
    let p = proxied(
        "brokerhang",
        &[("BUS__CONNECT_TIMEOUT_MS", "300"), ("BUS__PUBLISH_TIMEOUT_MS", "300")],
    )
    .await;
    let bus = &p.platform.bus;
    let ping = serde_json::to_vec(&EventEnvelope::new("test", Ping { n: 1 }).into_raw().expect("raw")).expect("json");
    let message = || Outgoing {
        exchange: bus.exchange(),
        routing_key: "test.ping",
        body: &ping,
        message_id: None,
        headers: Default::default(),
    };
    bus.publish_confirmed(&[message()])
        .await
        .expect("published while the broker answers");

    p.broker.freeze();
    let publish = tokio::time::timeout(Duration::from_secs(5), bus.publish_confirmed(&[message()])).await;
    assert!(matches!(publish, Ok(Err(_))), "the publish gave up by itself");

    // A new connection to a hanging broker gives up too.
    let silent = TcpProxy::start("127.0.0.1:5672").await.expect("proxy");
    silent.freeze();
    let mut settings = p.settings.bus.clone();
    settings.url = silent.url_through(&testkit::amqp_url(), "127.0.0.1:5672").into();
    let other = platform::bus::Bus::new(&settings, "platform-test");
    let connect = tokio::time::timeout(Duration::from_secs(5), other.connection()).await;
    assert!(matches!(connect, Ok(Err(_))), "the connect gave up by itself");
}

/// Panics on the event with `n == 13`; records the others.
struct Panicky {
    handled: Arc<AtomicUsize>,
}

impl EventHandler for Panicky {
    fn handle<'a>(
        &'a self,
        _tx: &'a mut platform::Tx,
        event: &'a RawEnvelope,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let ping = event.decode::<Ping>()?.data;
            assert!(ping.n != 13, "thirteen brings bad luck");
            self.handled.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    }
}

#[tokio::test]
async fn a_panicking_handler_parks_its_message_and_the_consumer_carries_on() {
    let t = platform("panic", &[("BUS__CONSUMERS_PER_QUEUE", "1")]).await;
    let p = &t.platform;
    let handled = Arc::new(AtomicUsize::new(0));
    let consumer = p.consumer(
        ConsumerSpec::new("pings", &["test.ping"]),
        Panicky {
            handled: handled.clone(),
        },
    );
    consumer.declare().await.expect("declare");
    let queues = consumer.queues().clone();
    let cancel = CancellationToken::new();
    tokio::spawn(consumer.run(cancel.clone()));
    for n in [13, 1, 2] {
        let body = serde_json::to_vec(&EventEnvelope::new("test", Ping { n }).into_raw().expect("raw")).expect("json");
        p.bus
            .publish_confirmed(&[Outgoing {
                exchange: p.bus.exchange(),
                routing_key: "test.ping",
                body: &body,
                message_id: None,
                headers: Default::default(),
            }])
            .await
            .expect("publish");
    }
    testkit::eventually(15, "the events after the panic handled", || async {
        Ok((handled.load(Ordering::SeqCst) == 2).then_some(()))
    })
    .await
    .expect("the consumer carried on");
    testkit::eventually(10, "the panicking event parked", || async {
        Ok((parking::parked(&p.bus, &queues).await? == 1).then_some(()))
    })
    .await
    .expect("parked");
    cancel.cancel();
    assert_eq!(count(&p.pool, "SELECT count(*) FROM processed_event").await, 2);
}

/// A background task that panics every time it runs.
struct Doomed;

impl platform::Task for Doomed {
    fn run(self: Arc<Self>, _cancel: CancellationToken) -> BoxFuture<'static, ()> {
        Box::pin(async { panic!("doomed") })
    }
}

#[tokio::test]
async fn a_task_that_keeps_panicking_is_restarted_counted_and_fails_readiness() {
    let p = proxied("doomed", &[]).await;
    let api = Api::new(utoipa::openapi::OpenApiBuilder::new().build(), |_| {});
    let app = Application::build(p.platform.clone(), &p.settings, api, vec![Box::new(Doomed)])
        .await
        .expect("build");
    let url = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let body = settles(&url, 503, "not_ready").await;
    assert_eq!(body["failing_tasks"], serde_json::json!(["Doomed"]), "{body}");
    assert!(p.platform.metrics.task_restarts.with_label_values(&["Doomed"]).get() >= 3);
    // The outbox relay, the job runner and housekeeping keep running beside it.
    assert_eq!(
        p.platform
            .metrics
            .task_restarts
            .with_label_values(&["outbox-relay"])
            .get(),
        0
    );
}
