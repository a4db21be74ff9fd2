//! Consumers: manual acknowledgements, bounded prefetch, idempotent handling, retries through
//! delay queues and a parking queue after the last attempt.
//!
//! A handler's effect and the record of the event id are written in one transaction, so a
//! redelivered event is acknowledged and skipped: delivery is at-least-once, effects exactly
//! once.
//!
//! An outage is not a handler failure: when Postgres or Redis does not answer (connection
//! refused or lost, pool timeout), the message goes back to the queue without counting an
//! attempt and the consuming loop pauses, probing the dependency with back-off, and resumes
//! once it answers. Only the handler's own failures go through the retry delays and parking.

use std::sync::Arc;
use std::time::{Duration, Instant};

use contracts::RawEnvelope;
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions};
use lapin::types::{FieldTable, ShortString};
use lapin::{Channel, message::Delivery};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::outbox::Outbox;
use super::topology::{ConsumerQueues, declare_consumer};
use super::{Bus, HeaderValue, Outgoing, publish_on, read_headers};
use crate::db::Tx;
pub use crate::health::Dependency;
use crate::health::{Health, supervise};
use crate::kv::Redis;
use crate::metrics::Metrics;

/// Header counting delivery attempts (1 for the first).
pub const ATTEMPT_HEADER: &str = "x-attempt";
/// Header with the last failure, on retried and parked messages.
pub const ERROR_HEADER: &str = "x-last-error";

/// Why a handler did not complete.
#[derive(Debug)]
pub enum HandlerError {
    /// Might succeed later: retried after a delay, parked after the last one.
    Retry(anyhow::Error),
    /// Will never succeed (a payload that does not decode): parked at once.
    Reject(anyhow::Error),
    /// A dependency did not answer: the message goes back to the queue uncounted and the
    /// consumer pauses until the dependency answers again.
    Unavailable(Dependency, anyhow::Error),
}

impl HandlerError {
    /// `Unavailable` when `e` (or an error in its chain) is a Postgres or Redis outage,
    /// `Retry` otherwise.
    pub fn classify(e: anyhow::Error) -> Self {
        match outage_in(&e) {
            Some(dependency) => Self::Unavailable(dependency, e),
            None => Self::Retry(e),
        }
    }
}

impl std::fmt::Display for HandlerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Retry(e) => write!(f, "retryable: {e:#}"),
            Self::Reject(e) => write!(f, "rejected: {e:#}"),
            Self::Unavailable(d, e) => write!(f, "{} unavailable: {e:#}", d.as_str()),
        }
    }
}

/// Whether `e` means Postgres is not answering (rather than refusing this statement).
pub fn is_postgres_outage(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // Connection exceptions (class 08), the server shutting down or starting, too many
        // connections.
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03" | "53300")),
        _ => false,
    }
}

/// Whether `e` means Redis is not answering.
pub fn is_redis_outage(e: &redis::RedisError) -> bool {
    e.is_io_error() || e.is_connection_refusal() || e.is_connection_dropped() || e.is_timeout()
}

fn outage_in(e: &anyhow::Error) -> Option<Dependency> {
    e.chain().find_map(|cause| {
        if let Some(s) = cause.downcast_ref::<sqlx::Error>() {
            is_postgres_outage(s).then_some(Dependency::Postgres)
        } else if let Some(r) = cause.downcast_ref::<redis::RedisError>() {
            is_redis_outage(r).then_some(Dependency::Redis)
        } else {
            None
        }
    })
}

impl From<sqlx::Error> for HandlerError {
    fn from(e: sqlx::Error) -> Self {
        if is_postgres_outage(&e) {
            Self::Unavailable(Dependency::Postgres, e.into())
        } else {
            Self::Retry(e.into())
        }
    }
}

impl From<anyhow::Error> for HandlerError {
    fn from(e: anyhow::Error) -> Self {
        Self::classify(e)
    }
}

impl From<redis::RedisError> for HandlerError {
    fn from(e: redis::RedisError) -> Self {
        if is_redis_outage(&e) {
            Self::Unavailable(Dependency::Redis, e.into())
        } else {
            Self::Retry(e.into())
        }
    }
}

/// A consuming loop stopped because `dependency` did not answer; the messages it held went
/// back to the queue.
#[derive(Debug)]
struct Paused {
    dependency: Dependency,
    cause: String,
}

impl Paused {
    fn on(dependency: Dependency, cause: &anyhow::Error) -> Self {
        Self {
            dependency,
            cause: format!("{cause:#}"),
        }
    }
}

impl std::fmt::Display for Paused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} unavailable: {}", self.dependency.as_str(), self.cause)
    }
}

impl std::error::Error for Paused {}

impl From<contracts::DecodeError> for HandlerError {
    fn from(e: contracts::DecodeError) -> Self {
        Self::Reject(anyhow::Error::new(e))
    }
}

/// Handles one event inside the transaction that also records its id.
pub trait EventHandler: Send + Sync + 'static {
    fn handle<'a>(&'a self, tx: &'a mut Tx, event: &'a RawEnvelope) -> BoxFuture<'a, Result<(), HandlerError>>;

    /// Handles several events in one transaction (a batched consumer, see
    /// [`ConsumerSpec::batched`]); each comes with the span of its own trace. By default, one
    /// after the other; handlers override it to share round trips between events.
    fn handle_batch<'a>(
        &'a self,
        tx: &'a mut Tx,
        events: &'a [(&'a RawEnvelope, tracing::Span)],
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            for (event, span) in events {
                self.handle(tx, event).instrument(span.clone()).await?;
            }
            Ok(())
        })
    }

    /// Called once the transaction `handle` wrote in has committed (to wake work that must see
    /// its rows).
    fn committed(&self, _event: &RawEnvelope) {}
}

/// What a consumer is called and which event types it takes (topic patterns).
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    pub name: String,
    pub patterns: Vec<String>,
    /// At most this many messages already received are handled in one transaction (1: each
    /// alone).
    pub batch: usize,
}

impl ConsumerSpec {
    pub fn new(name: &str, patterns: &[&str]) -> Self {
        Self {
            name: name.to_owned(),
            patterns: patterns.iter().map(|p| (*p).to_owned()).collect(),
            batch: 1,
        }
    }

    /// Handles up to `n` messages that have already arrived in one transaction: one commit
    /// for many events under load, each still alone when it arrives alone. When any of them
    /// fails, the batch is rolled back and its messages are handled one by one, so a bad
    /// message is retried or parked by itself.
    pub fn batched(mut self, n: usize) -> Self {
        self.batch = n.max(1);
        self
    }
}

/// What became of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Handled,
    Duplicate,
    Retried,
    Parked,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Self::Handled => "handled",
            Self::Duplicate => "duplicate",
            Self::Retried => "retried",
            Self::Parked => "parked",
        }
    }
}

/// Consumes one queue with `bus.consumers_per_queue` loops, each on its own channel.
pub struct Consumer<H> {
    bus: Arc<Bus>,
    pool: PgPool,
    redis: Redis,
    outbox: Outbox,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    queues: ConsumerQueues,
    spec: ConsumerSpec,
    handler: Arc<H>,
}

impl<H> Clone for Consumer<H> {
    fn clone(&self) -> Self {
        Self {
            bus: self.bus.clone(),
            pool: self.pool.clone(),
            redis: self.redis.clone(),
            outbox: self.outbox.clone(),
            metrics: self.metrics.clone(),
            health: self.health.clone(),
            queues: self.queues.clone(),
            spec: self.spec.clone(),
            handler: self.handler.clone(),
        }
    }
}

impl<H: EventHandler> Consumer<H> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        bus: Arc<Bus>,
        pool: PgPool,
        redis: Redis,
        outbox: Outbox,
        metrics: Arc<Metrics>,
        health: Arc<Health>,
        spec: ConsumerSpec,
        handler: Arc<H>,
    ) -> Self {
        let queues = ConsumerQueues::new(bus.queue_prefix(), &spec.name, &bus.settings().retry_delays_ms);
        Self {
            bus,
            pool,
            redis,
            outbox,
            metrics,
            health,
            queues,
            spec,
            handler,
        }
    }

    pub fn queues(&self) -> &ConsumerQueues {
        &self.queues
    }

    /// The consumer's name (`ticket-created`).
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Declares this consumer's queues and bindings (also done by [`Consumer::run`]).
    pub async fn declare(&self) -> anyhow::Result<()> {
        let channel = self.bus.channel().await?;
        self.declare_on(&channel).await?;
        let _ = channel.close(200, ShortString::from("declared")).await;
        Ok(())
    }

    async fn declare_on(&self, channel: &lapin::Channel) -> anyhow::Result<()> {
        declare_consumer(
            channel,
            self.bus.exchange(),
            &self.queues,
            &self.spec.patterns,
            self.bus.settings().ephemeral,
        )
        .await?;
        Ok(())
    }

    /// Runs `bus.consumers_per_queue` consuming loops side by side until cancelled. Messages
    /// of one queue are therefore handled concurrently, not in publication order. A loop that
    /// panics is restarted (see [`supervise`]).
    pub async fn run(self, cancel: CancellationToken) {
        let loops = usize::from(self.bus.settings().consumers_per_queue.max(1));
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..loops {
            let consumer = self.clone();
            let c = cancel.clone();
            set.spawn(supervise(
                format!("consumer:{}", self.spec.name),
                move || Box::pin(consumer.clone().run_loop(c.clone())),
                cancel.clone(),
                self.metrics.clone(),
                self.health.clone(),
            ));
        }
        while set.join_next().await.is_some() {}
    }

    /// Consumes until cancelled, reconnecting after any broker failure and pausing while a
    /// dependency is away. A message being handled when cancellation comes is finished and
    /// acknowledged; prefetched ones go back to the queue when the channel closes.
    async fn run_loop(self, cancel: CancellationToken) {
        let max_delay = Duration::from_millis(self.bus.settings().reconnect_max_delay_ms);
        let mut delay = Duration::from_millis(200);
        loop {
            let started = Instant::now();
            match self.consume(&cancel).await {
                Ok(()) => return,
                Err(e) => {
                    if let Some(paused) = e.downcast_ref::<Paused>() {
                        if !self.pause(paused, max_delay, &cancel).await {
                            return;
                        }
                        delay = Duration::from_millis(200);
                        continue;
                    }
                    if started.elapsed() > Duration::from_secs(30) {
                        delay = Duration::from_millis(200);
                    }
                    tracing::warn!(queue = %self.queues.main, error = %format!("{e:#}"), retry_in_ms = delay.as_millis() as u64, "consumer lost its channel; reconnecting");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = cancel.cancelled() => return,
                    }
                    delay = (delay * 2).min(max_delay);
                }
            }
        }
    }

    /// Waits, probing `paused.dependency` with back-off, until it answers (true) or the
    /// consumer is cancelled (false).
    async fn pause(&self, paused: &Paused, max_delay: Duration, cancel: &CancellationToken) -> bool {
        let dependency = paused.dependency.as_str();
        self.metrics
            .bus_consumer_paused
            .with_label_values(&[self.queues.main.as_str(), dependency])
            .inc();
        tracing::warn!(queue = %self.queues.main, dependency, error = %paused.cause, "dependency unavailable; consumer paused, its messages back in the queue");
        let began = Instant::now();
        let mut delay = Duration::from_millis(100);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = cancel.cancelled() => return false,
            }
            if self.answers(paused.dependency, max_delay).await {
                tracing::info!(queue = %self.queues.main, dependency, paused_ms = began.elapsed().as_millis() as u64, "dependency answers again; consumer resumed");
                return true;
            }
            delay = (delay * 2).min(max_delay);
        }
    }

    async fn answers(&self, dependency: Dependency, within: Duration) -> bool {
        let within = within.max(Duration::from_millis(500));
        match dependency {
            Dependency::Postgres => {
                let probe = sqlx::query("SELECT 1").execute(&self.pool);
                matches!(tokio::time::timeout(within, probe).await, Ok(Ok(_)))
            }
            Dependency::Broker => true,
            Dependency::Redis => {
                let mut conn = self.redis.conn.clone();
                let ping = redis::cmd("PING");
                let probe = ping.query_async::<String>(&mut conn);
                matches!(tokio::time::timeout(within, probe).await, Ok(Ok(_)))
            }
        }
    }

    async fn consume(&self, cancel: &CancellationToken) -> anyhow::Result<()> {
        let channel = self.bus.channel().await?;
        let result = self.consume_on(&channel, cancel).await;
        if result.as_ref().is_err_and(|e| e.is::<Paused>()) {
            // Unacknowledged messages go back to the queue, uncounted.
            let _ = channel.close(200, ShortString::from("paused")).await;
        }
        result
    }

    async fn consume_on(&self, channel: &Channel, cancel: &CancellationToken) -> anyhow::Result<()> {
        self.declare_on(channel).await?;
        channel
            .basic_qos(self.bus.settings().prefetch, BasicQosOptions::default())
            .await?;
        channel.confirm_select(ConfirmSelectOptions::default()).await?;
        let mut stream = channel
            .basic_consume(
                ShortString::from(self.queues.main.as_str()),
                ShortString::from(""),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        tracing::info!(queue = %self.queues.main, "consuming");
        loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => {
                    let _ = channel.close(200, ShortString::from("shutdown")).await;
                    return Ok(());
                }
                next = stream.next() => match next {
                    Some(Ok(delivery)) if self.spec.batch > 1 => {
                        let mut batch = vec![delivery];
                        let mut failed = None;
                        while batch.len() < self.spec.batch {
                            match stream.next().now_or_never() {
                                Some(Some(Ok(d))) => batch.push(d),
                                Some(Some(Err(e))) => {
                                    failed = Some(e);
                                    break;
                                }
                                _ => break,
                            }
                        }
                        self.process_batch(channel, batch).await?;
                        if let Some(e) = failed {
                            return Err(e.into());
                        }
                    }
                    Some(Ok(delivery)) => {
                        self.process(channel, delivery).await?;
                    }
                    Some(Err(e)) => return Err(e.into()),
                    None => anyhow::bail!("the broker ended the consumer"),
                }
            }
        }
    }

    /// The span of one event's handling, a child of the producer's trace.
    fn span_for(
        &self,
        event: &RawEnvelope,
        headers: &std::collections::BTreeMap<String, HeaderValue>,
        attempt: i64,
    ) -> tracing::Span {
        let span = tracing::info_span!(
            "bus.consume",
            otel.kind = "consumer",
            otel.name = %format!("{} process", self.queues.main),
            messaging.destination.name = %self.queues.main,
            event.r#type = %event.event_type,
            event.id = %event.id,
            attempt,
        );
        let traceparent = headers
            .get("traceparent")
            .and_then(HeaderValue::as_text)
            .map(str::to_owned)
            .or_else(|| event.traceparent.clone());
        crate::telemetry::set_remote_parent(&span, |k| match k {
            "traceparent" => traceparent.as_deref(),
            "tracestate" => event.tracestate.as_deref(),
            _ => None,
        });
        span
    }

    /// Handles several received messages in one transaction; falls back to one by one when
    /// one of them does not parse or its handler fails.
    async fn process_batch(&self, channel: &Channel, deliveries: Vec<Delivery>) -> anyhow::Result<()> {
        if deliveries.len() == 1 {
            for d in deliveries {
                self.process(channel, d).await?;
            }
            return Ok(());
        }
        let started = Instant::now();
        let mut events = Vec::with_capacity(deliveries.len());
        for d in &deliveries {
            let headers = read_headers(&d.properties);
            let attempt = headers.get(ATTEMPT_HEADER).and_then(HeaderValue::as_int).unwrap_or(1);
            match RawEnvelope::from_slice(&d.data) {
                Ok(event) => {
                    let span = self.span_for(&event, &headers, attempt);
                    events.push((event, span));
                }
                Err(_) => break,
            }
        }
        let outcomes = if events.len() == deliveries.len() {
            let refs: Vec<(&RawEnvelope, tracing::Span)> = events.iter().map(|(e, s)| (e, s.clone())).collect();
            match caught(self.handle_batch(&refs)).await {
                Ok(outcomes) => Some(outcomes),
                Err(HandlerError::Unavailable(dependency, e)) => return Err(Paused::on(dependency, &e).into()),
                Err(e) => {
                    tracing::warn!(queue = %self.queues.main, size = deliveries.len(), error = %e, "batch failed; handling its messages one by one");
                    None
                }
            }
        } else {
            None
        };
        let Some(outcomes) = outcomes else {
            for d in deliveries {
                self.process(channel, d).await?;
            }
            return Ok(());
        };
        if let Some(last) = deliveries.last() {
            last.ack(BasicAckOptions { multiple: true }).await?;
        }
        let per_message = started.elapsed().as_secs_f64() / outcomes.len() as f64;
        for outcome in outcomes {
            self.count(outcome, per_message);
        }
        Ok(())
    }

    /// Counts one message's outcome and the time it took.
    fn count(&self, outcome: Outcome, seconds: f64) {
        let queue = self.queues.main.as_str();
        self.metrics
            .bus_consumed
            .with_label_values(&[queue, outcome.label()])
            .inc();
        self.metrics
            .bus_handle_duration
            .with_label_values(&[queue])
            .observe(seconds);
    }

    /// Records the events' ids and hands the new ones to the handler, in one transaction.
    async fn handle_batch(&self, events: &[(&RawEnvelope, tracing::Span)]) -> Result<Vec<Outcome>, HandlerError> {
        let mut tx = self.pool.begin().await?;
        let ids: Vec<uuid::Uuid> = events.iter().map(|(e, _)| e.id).collect();
        let types: Vec<&str> = events.iter().map(|(e, _)| e.event_type.as_str()).collect();
        let mut fresh: std::collections::HashSet<uuid::Uuid> = sqlx::query_scalar(
            "INSERT INTO processed_event (consumer, event_id, event_type) \
             SELECT $1, u.id, u.t FROM UNNEST($2::uuid[], $3::text[]) AS u(id, t) ON CONFLICT DO NOTHING \
             RETURNING event_id",
        )
        .bind(&self.spec.name)
        .bind(&ids)
        .bind(&types)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        let mut outcomes = Vec::with_capacity(events.len());
        let mut todo = Vec::with_capacity(events.len());
        for (event, span) in events {
            if fresh.remove(&event.id) {
                todo.push((*event, span.clone()));
                outcomes.push(Outcome::Handled);
            } else {
                tracing::debug!(event_id = %event.id, "already handled; skipping");
                outcomes.push(Outcome::Duplicate);
            }
        }
        if !todo.is_empty() {
            self.handler.handle_batch(&mut tx, &todo).await?;
        }
        self.outbox.commit(tx).await?;
        for ((event, _), outcome) in events.iter().zip(&outcomes) {
            if *outcome == Outcome::Handled {
                self.handler.committed(event);
            }
        }
        Ok(outcomes)
    }

    async fn process(&self, channel: &Channel, delivery: Delivery) -> anyhow::Result<Outcome> {
        let started = Instant::now();
        let headers = read_headers(&delivery.properties);
        let attempt = headers.get(ATTEMPT_HEADER).and_then(HeaderValue::as_int).unwrap_or(1);
        let result = match RawEnvelope::from_slice(&delivery.data) {
            Ok(event) => {
                let span = self.span_for(&event, &headers, attempt);
                caught(self.handle_once(&event)).instrument(span).await
            }
            Err(e) => Err(HandlerError::Reject(anyhow::anyhow!(
                "not a CloudEvents JSON envelope: {e}"
            ))),
        };
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(HandlerError::Unavailable(dependency, e)) => return Err(Paused::on(dependency, &e).into()),
            Err(err) => {
                let retry = match &err {
                    HandlerError::Retry(_) => usize::try_from(attempt - 1)
                        .ok()
                        .and_then(|i| self.queues.retries.get(i)),
                    HandlerError::Reject(_) | HandlerError::Unavailable(..) => None,
                };
                let reason = err.to_string();
                let mut out_headers = headers.clone();
                out_headers.insert(ERROR_HEADER.to_owned(), HeaderValue::Text(truncate(&reason, 1000)));
                out_headers.insert(
                    "x-original-routing-key".to_owned(),
                    HeaderValue::Text(delivery.routing_key.as_str().to_owned()),
                );
                let message_id = delivery.properties.message_id().as_ref().map(|s| s.as_str().to_owned());
                let (target, outcome) = match retry {
                    Some((queue, _)) => {
                        out_headers.insert(ATTEMPT_HEADER.to_owned(), HeaderValue::Int(attempt + 1));
                        tracing::warn!(queue = %self.queues.main, attempt, error = %reason, "handler failed; retrying later");
                        (queue.as_str(), Outcome::Retried)
                    }
                    None => {
                        tracing::error!(queue = %self.queues.main, attempt, error = %reason, "handler failed for the last time; parking the message");
                        (self.queues.parking.as_str(), Outcome::Parked)
                    }
                };
                let message = [Outgoing {
                    exchange: "",
                    routing_key: target,
                    body: &delivery.data,
                    message_id: message_id.as_deref(),
                    headers: out_headers,
                }];
                let retry_or_park = publish_on(channel, &message);
                // Unconfirmed in time: the channel is dropped and the message, unacknowledged,
                // comes back.
                tokio::time::timeout(self.bus.publish_timeout(), retry_or_park)
                    .await
                    .map_err(|_| anyhow::anyhow!("the broker did not confirm a retry or park in time"))??;
                outcome
            }
        };
        delivery.ack(BasicAckOptions::default()).await?;
        self.count(outcome, started.elapsed().as_secs_f64());
        Ok(outcome)
    }

    async fn handle_once(&self, event: &RawEnvelope) -> Result<Outcome, HandlerError> {
        let outcomes = self.handle_batch(&[(event, tracing::Span::current())]).await?;
        Ok(outcomes.first().copied().unwrap_or(Outcome::Duplicate))
    }
}

/// Runs a handler, turning a panic into a rejection (the message is parked, the loop goes on).
async fn caught<T>(handling: impl std::future::Future<Output = Result<T, HandlerError>>) -> Result<T, HandlerError> {
    match std::panic::AssertUnwindSafe(handling).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned());
            Err(HandlerError::Reject(anyhow::anyhow!("the handler panicked: {message}")))
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}
