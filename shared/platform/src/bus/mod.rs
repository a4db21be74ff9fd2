//! RabbitMQ: one durable topic exchange for domain events, per-consumer quorum queues with
//! delay queues for retries and a parking queue, a transactional outbox in front of publishing,
//! and idempotent consumers.
//!
//! The connection is re-established on demand after a broker loss; publishers and consumers ask
//! [`Bus::channel`] again and carry on. Nothing is lost: unpublished events wait in the outbox,
//! unacknowledged deliveries are redelivered, and consumers de-duplicate by event id.

pub mod consumer;
pub mod outbox;
pub mod parking;
pub mod topology;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, PublisherConfirm};
use secrecy::ExposeSecret;
use tokio::sync::Mutex;

use crate::config::BusSettings;

fn timed_out(what: &str) -> lapin::Error {
    lapin::Error::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("{what} timed out"),
    ))
}

/// Content type of a structured-mode CloudEvent.
pub const CLOUDEVENTS_JSON: &str = "application/cloudevents+json";

/// The service's handle on the broker.
pub struct Bus {
    settings: BusSettings,
    service: String,
    connection: Mutex<Option<Arc<Connection>>>,
    publisher: Mutex<Option<Channel>>,
}

/// One message to publish.
pub struct Outgoing<'a> {
    pub exchange: &'a str,
    pub routing_key: &'a str,
    pub body: &'a [u8],
    pub message_id: Option<&'a str>,
    pub headers: BTreeMap<String, HeaderValue>,
}

/// A header value this platform puts on messages.
#[derive(Debug, Clone, PartialEq)]
pub enum HeaderValue {
    Text(String),
    Int(i64),
}

impl Bus {
    pub fn new(settings: &BusSettings, service: &str) -> Arc<Self> {
        Arc::new(Self {
            settings: settings.clone(),
            service: service.to_owned(),
            connection: Mutex::new(None),
            publisher: Mutex::new(None),
        })
    }

    pub fn settings(&self) -> &BusSettings {
        &self.settings
    }

    /// The exchange every domain event goes to.
    pub fn exchange(&self) -> &str {
        &self.settings.exchange
    }

    /// Prefix of this service's queue names.
    pub fn queue_prefix(&self) -> &str {
        if self.settings.queue_prefix.is_empty() {
            &self.service
        } else {
            &self.settings.queue_prefix
        }
    }

    /// The live connection, opening a new one if there is none or it broke.
    pub async fn connection(&self) -> lapin::Result<Arc<Connection>> {
        let mut guard = self.connection.lock().await;
        if let Some(conn) = guard.as_ref()
            && conn.status().connected()
        {
            return Ok(conn.clone());
        }
        let props = ConnectionProperties::default().with_connection_name(LongString::from(self.service.clone()));
        let connect = Connection::connect(self.settings.url.expose_secret(), props);
        let conn = match tokio::time::timeout(self.connect_timeout(), connect).await {
            Ok(conn) => Arc::new(conn?),
            Err(_) => return Err(timed_out("connecting to the broker")),
        };
        tracing::info!(service = %self.service, "connected to the broker");
        *guard = Some(conn.clone());
        Ok(conn)
    }

    /// A new channel on the live connection.
    pub async fn channel(&self) -> lapin::Result<Channel> {
        let connection = self.connection().await?;
        match tokio::time::timeout(self.connect_timeout(), connection.create_channel()).await {
            Ok(channel) => channel,
            Err(_) => Err(timed_out("opening a channel")),
        }
    }

    fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.settings.connect_timeout_ms.max(1))
    }

    /// How long a batch's publish and confirms may take.
    pub fn publish_timeout(&self) -> Duration {
        Duration::from_millis(self.settings.publish_timeout_ms.max(1))
    }

    /// Connects, retrying with capped exponential back-off until `deadline` passes.
    pub async fn connect_with_retry(&self, deadline: Duration) -> lapin::Result<Arc<Connection>> {
        let started = std::time::Instant::now();
        let mut delay = Duration::from_millis(100);
        loop {
            match self.connection().await {
                Ok(c) => return Ok(c),
                Err(e) if started.elapsed() < deadline => {
                    tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "broker not reachable");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_millis(self.settings.reconnect_max_delay_ms));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Whether the connection is up (for readiness).
    pub async fn is_connected(&self) -> bool {
        self.connection
            .lock()
            .await
            .as_ref()
            .is_some_and(|c| c.status().connected())
    }

    /// Publishes a batch on the confirm-mode publishing channel and waits until the broker has
    /// confirmed every message. Any failure drops the channel so the next call starts afresh.
    pub async fn publish_confirmed(&self, messages: &[Outgoing<'_>]) -> anyhow::Result<()> {
        let mut guard = self.publisher.lock().await;
        let publish = async {
            let channel = match guard.as_ref() {
                Some(ch) if ch.status().connected() => ch.clone(),
                _ => {
                    let ch = self.channel().await?;
                    topology::declare_exchange(&ch, &self.settings.exchange, self.settings.ephemeral).await?;
                    ch.confirm_select(ConfirmSelectOptions::default()).await?;
                    *guard = Some(ch.clone());
                    ch
                }
            };
            publish_on(&channel, messages).await
        };
        let result = match tokio::time::timeout(self.publish_timeout(), publish).await {
            Ok(result) => result,
            Err(_) => Err(anyhow::anyhow!(
                "the broker did not confirm within {} ms",
                self.settings.publish_timeout_ms
            )),
        };
        if result.is_err() {
            // A channel that failed or hung is not used again.
            if let Some(ch) = guard.take() {
                tokio::spawn(async move {
                    let _ = ch.close(200, ShortString::from("abandoned")).await;
                });
            }
        }
        result
    }

    /// Closes the connection (on shutdown).
    pub async fn close(&self) {
        if let Some(conn) = self.connection.lock().await.take()
            && conn.status().connected()
        {
            let _ = conn.close(200, ShortString::from("shutdown")).await;
        }
    }
}

/// Publishes every message, then awaits every confirm; fails if any was nacked.
///
/// A publish queues its frames on its first poll and then waits until the connection's I/O
/// loop has written them. All publishes are therefore polled once, in order, before any is
/// awaited: the frames reach the broker in the messages' order, and the I/O loop writes the
/// whole batch in a few large writes instead of one write (and two thread hand-offs) per
/// message.
pub async fn publish_on(channel: &Channel, messages: &[Outgoing<'_>]) -> anyhow::Result<()> {
    use std::pin::Pin;
    use std::task::Poll;

    use futures_util::FutureExt;
    use futures_util::future::{BoxFuture, MaybeDone, maybe_done};

    let mut publishes: Vec<MaybeDone<BoxFuture<'_, lapin::Result<PublisherConfirm>>>> = messages
        .iter()
        .map(|m| {
            let mut props = BasicProperties::default()
                .with_delivery_mode(2)
                .with_content_type(ShortString::from(CLOUDEVENTS_JSON))
                .with_headers(to_field_table(&m.headers));
            if let Some(id) = m.message_id {
                props = props.with_message_id(ShortString::from(id));
            }
            maybe_done(
                channel
                    .basic_publish(
                        ShortString::from(m.exchange),
                        ShortString::from(m.routing_key),
                        BasicPublishOptions::default(),
                        m.body,
                        props,
                    )
                    .boxed(),
            )
        })
        .collect();
    // Every pending publish is polled on each wake-up, in order (the first round queues the
    // frames in order); a finished one stays finished.
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for p in &mut publishes {
            pending |= Pin::new(p).poll(cx).is_pending();
        }
        if pending { Poll::Pending } else { Poll::Ready(()) }
    })
    .await;
    let mut confirms = Vec::with_capacity(publishes.len());
    for p in &mut publishes {
        let confirm = Pin::new(p)
            .take_output()
            .ok_or_else(|| anyhow::anyhow!("a publish finished without a result"))??;
        confirms.push(confirm);
    }
    for confirm in confirms {
        let c = confirm.await?;
        if c.is_nack() {
            anyhow::bail!("the broker refused a message (nack)");
        }
    }
    Ok(())
}

fn to_field_table(headers: &BTreeMap<String, HeaderValue>) -> FieldTable {
    let mut table = FieldTable::default();
    for (k, v) in headers {
        let value = match v {
            HeaderValue::Text(s) => AMQPValue::LongString(LongString::from(s.clone())),
            HeaderValue::Int(i) => AMQPValue::LongLongInt(*i),
        };
        table.insert(ShortString::from(k.clone()), value);
    }
    table
}

/// Reads the headers of a delivery back into plain values.
pub fn read_headers(props: &BasicProperties) -> BTreeMap<String, HeaderValue> {
    let mut out = BTreeMap::new();
    if let Some(table) = props.headers() {
        for (k, v) in table.inner() {
            let value = match v {
                AMQPValue::LongString(s) => HeaderValue::Text(String::from_utf8_lossy(s.as_bytes()).into_owned()),
                AMQPValue::ShortString(s) => HeaderValue::Text(s.as_str().to_owned()),
                AMQPValue::LongLongInt(i) => HeaderValue::Int(*i),
                AMQPValue::LongInt(i) => HeaderValue::Int(i64::from(*i)),
                AMQPValue::ShortInt(i) => HeaderValue::Int(i64::from(*i)),
                AMQPValue::LongUInt(i) => HeaderValue::Int(i64::from(*i)),
                _ => continue,
            };
            out.insert(k.as_str().to_owned(), value);
        }
    }
    out
}

impl HeaderValue {
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(s) => Some(s),
            Self::Int(_) => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(*i),
            Self::Text(s) => s.parse().ok(),
        }
    }
}
