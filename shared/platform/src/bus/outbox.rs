//! The transactional outbox: an event is written in the same transaction as the state change
//! that caused it, and a relay publishes it afterwards with publisher confirms. An event is
//! therefore published if and only if its transaction commits (at least once; consumers
//! de-duplicate). Any number of replicas relay side by side: rows are claimed with
//! `FOR UPDATE SKIP LOCKED`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use contracts::{Event, EventEnvelope};
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{Bus, HeaderValue, Outgoing};
use crate::clock::Clock;
use crate::config::OutboxSettings;
use crate::db::Tx;
use crate::metrics::Metrics;

/// The outbox insert of `select`'s rows (`event_id, event_type, envelope, traceparent`), for a
/// service's own statement that writes its change and its events together (as a CTE step).
pub fn insert_select(select: &str) -> String {
    format!("INSERT INTO outbox_event (event_id, event_type, envelope, traceparent) {select}")
}

/// The outbox insert of one [`Prepared`] bound as parameters `$first` to `$first + 3`
/// (`event_id`, `event_type`, `envelope`, `traceparent`), followed by `rest` (`FROM e WHERE ...`,
/// or empty).
pub fn insert_one(first: usize, rest: &str) -> String {
    let (a, b, c, d) = (first, first + 1, first + 2, first + 3);
    let select = format!("SELECT ${a}, ${b}, ${c}::jsonb, ${d} {rest}");
    insert_select(select.trim_end())
}

/// The outbox insert of [`PreparedColumns`] bound as parameters `$first` to `$first + 3` (the
/// four column arrays, in field order).
pub fn insert_many(first: usize) -> String {
    let (a, b, c, d) = (first, first + 1, first + 2, first + 3);
    insert_select(&format!(
        "SELECT * FROM unnest(${a}::uuid[], ${b}::text[], ${c}::text[]::jsonb[], ${d}::text[])"
    ))
}

/// An outbox row ready to insert: a caller that changes its state in one statement inserts it
/// there ([`insert_one`], [`insert_select`]) so the event commits with the change, then calls
/// [`Outbox::wake`].
#[derive(Debug, Clone)]
pub struct Prepared {
    pub event_id: Uuid,
    pub event_type: String,
    /// The CloudEvents envelope as JSON text, serialized once from the typed event.
    pub envelope: String,
    pub traceparent: Option<String>,
}

/// Outbox rows as column arrays, for a caller's own multi-row statement ([`insert_many`]).
#[derive(Debug, Default)]
pub struct PreparedColumns {
    pub event_ids: Vec<Uuid>,
    pub event_types: Vec<String>,
    pub envelopes: Vec<String>,
    pub traceparents: Vec<Option<String>>,
}

impl FromIterator<Prepared> for PreparedColumns {
    fn from_iter<T: IntoIterator<Item = Prepared>>(events: T) -> Self {
        let mut c = Self::default();
        for p in events {
            c.event_ids.push(p.event_id);
            c.event_types.push(p.event_type);
            c.envelopes.push(p.envelope);
            c.traceparents.push(p.traceparent);
        }
        c
    }
}

/// Stages events and relays them. Cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
}

struct Inner {
    service: String,
    pool: PgPool,
    bus: Arc<Bus>,
    metrics: Arc<Metrics>,
    settings: OutboxSettings,
    clock: Clock,
    wake: Notify,
}

impl Outbox {
    /// An outbox whose envelopes are stamped with `clock`'s time.
    pub fn new(
        service: &str,
        pool: PgPool,
        bus: Arc<Bus>,
        metrics: Arc<Metrics>,
        settings: OutboxSettings,
        clock: Clock,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                service: service.to_owned(),
                pool,
                bus,
                metrics,
                settings,
                clock,
                wake: Notify::new(),
            }),
        }
    }

    /// Builds the outbox row for `data`, stamped with the current trace context, for a caller
    /// that writes it within its own statement (see [`Prepared`]).
    pub fn prepare<T: Event>(&self, data: T) -> Result<Prepared, sqlx::Error> {
        self.prepare_envelope(EventEnvelope::new(&self.inner.service, data))
    }

    /// Like [`prepare`](Self::prepare), for the `seq`-th event about its subject (the number
    /// the caller's statement wrote with the change, e.g. the aggregate's new version): the
    /// envelope's `subjectseq`, by which consumers ignore events older than what they applied.
    pub fn prepare_sequenced<T: Event>(&self, data: T, seq: i64) -> Result<Prepared, sqlx::Error> {
        self.prepare_envelope(EventEnvelope::new(&self.inner.service, data).in_sequence(seq))
    }

    fn prepare_envelope<T: Event>(&self, mut envelope: EventEnvelope<T>) -> Result<Prepared, sqlx::Error> {
        envelope.time = self.inner.clock.now();
        let headers = crate::telemetry::trace_headers(&tracing::Span::current());
        envelope.traceparent = headers.get("traceparent").cloned();
        envelope.tracestate = headers.get("tracestate").filter(|s| !s.is_empty()).cloned();
        let event_id = envelope.id;
        let event_type = envelope.event_type.clone();
        let traceparent = envelope.traceparent.clone();
        let envelope = serde_json::to_string(&envelope).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        Ok(Prepared {
            event_id,
            event_type,
            envelope,
            traceparent,
        })
    }

    /// Writes `data` as an event in the caller's transaction, stamped with the current trace
    /// context. Nothing is sent unless the transaction commits.
    pub async fn stage<T: Event>(&self, tx: &mut Tx, data: T) -> Result<Uuid, sqlx::Error> {
        self.stage_prepared(tx, self.prepare(data)?).await
    }

    /// Like [`stage`](Self::stage), for the `seq`-th event about its subject (see
    /// [`prepare_sequenced`](Self::prepare_sequenced)).
    pub async fn stage_sequenced<T: Event>(&self, tx: &mut Tx, data: T, seq: i64) -> Result<Uuid, sqlx::Error> {
        self.stage_prepared(tx, self.prepare_sequenced(data, seq)?).await
    }

    async fn stage_prepared(&self, tx: &mut Tx, p: Prepared) -> Result<Uuid, sqlx::Error> {
        sqlx::query(&insert_one(1, ""))
            .bind(p.event_id)
            .bind(&p.event_type)
            .bind(&p.envelope)
            .bind(&p.traceparent)
            .execute(&mut **tx)
            .await?;
        Ok(p.event_id)
    }

    /// Commits `tx` and wakes the relay, so staged events go out at once.
    pub async fn commit(&self, tx: Tx) -> Result<(), sqlx::Error> {
        tx.commit().await?;
        self.wake();
        Ok(())
    }

    /// Tells the relay that a transaction which may have staged events has committed.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Publishes one batch of unpublished events; returns how many were published.
    pub async fn relay_once(&self) -> anyhow::Result<usize> {
        let inner = &self.inner;
        let mut tx = inner.pool.begin().await?;
        let rows: Vec<(i64, Uuid, String, String, Option<String>)> = sqlx::query_as(
            "SELECT id, event_id, event_type, envelope::text, traceparent FROM outbox_event \
             WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(inner.settings.batch_size)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(0);
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let event_ids: Vec<String> = rows.iter().map(|r| r.1.to_string()).collect();
        let messages: Vec<Outgoing<'_>> = rows
            .iter()
            .zip(&event_ids)
            .map(|((_, _, event_type, body, traceparent), event_id)| {
                let mut headers = BTreeMap::new();
                if let Some(tp) = traceparent {
                    headers.insert("traceparent".to_owned(), HeaderValue::Text(tp.clone()));
                }
                Outgoing {
                    exchange: inner.bus.exchange(),
                    routing_key: event_type,
                    body: body.as_bytes(),
                    message_id: Some(event_id),
                    headers,
                }
            })
            .collect();
        match inner.bus.publish_confirmed(&messages).await {
            Ok(()) => {
                sqlx::query("UPDATE outbox_event SET published_at = now(), attempts = attempts + 1 WHERE id = ANY($1)")
                    .bind(&ids)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                for (_, _, event_type, _, _) in &rows {
                    inner.metrics.bus_published.with_label_values(&[event_type]).inc();
                }
                inner
                    .metrics
                    .outbox_relayed
                    .with_label_values(&["published"])
                    .inc_by(rows.len() as u64);
                Ok(rows.len())
            }
            Err(e) => {
                sqlx::query("UPDATE outbox_event SET attempts = attempts + 1, last_error = $2 WHERE id = ANY($1)")
                    .bind(&ids)
                    .bind(format!("{e:#}"))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                inner
                    .metrics
                    .outbox_relayed
                    .with_label_values(&["failed"])
                    .inc_by(rows.len() as u64);
                Err(e)
            }
        }
    }

    /// Publishes until nothing is left (tests and shutdown).
    pub async fn drain(&self) -> anyhow::Result<usize> {
        let mut total = 0;
        loop {
            let n = self.relay_once().await?;
            total += n;
            if n == 0 {
                return Ok(total);
            }
        }
    }

    /// Relays until cancelled: woken by commits in this process, and polling for rows written
    /// by other replicas or left by a crash. On cancellation it publishes what is left.
    pub async fn run(self, cancel: CancellationToken) {
        let poll = Duration::from_millis(self.inner.settings.poll_interval_ms);
        let mut failures: u32 = 0;
        loop {
            match self.relay_once().await {
                Ok(n) if n as i64 >= self.inner.settings.batch_size => {
                    failures = 0;
                    continue;
                }
                Ok(_) => failures = 0,
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(error = %format!("{e:#}"), failures, "outbox relay failed; will retry");
                }
            }
            let wait = if failures == 0 {
                poll
            } else {
                (poll * 2u32.saturating_pow(failures.min(6))).min(Duration::from_secs(30))
            };
            tokio::select! {
                _ = self.inner.wake.notified(), if failures == 0 => {}
                _ = tokio::time::sleep(wait) => {}
                _ = cancel.cancelled() => {
                    if let Err(e) = self.drain().await {
                        tracing::warn!(error = %format!("{e:#}"), "outbox not drained at shutdown; rows stay for the next start");
                    }
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_insert_fragments_name_the_columns_once_and_number_the_parameters() {
        assert_eq!(
            insert_one(15, "FROM e WHERE $15::uuid IS NOT NULL"),
            "INSERT INTO outbox_event (event_id, event_type, envelope, traceparent) \
             SELECT $15, $16, $17::jsonb, $18 FROM e WHERE $15::uuid IS NOT NULL"
        );
        assert!(insert_one(1, "").ends_with("SELECT $1, $2, $3::jsonb, $4"));
        assert!(insert_many(3).ends_with("unnest($3::uuid[], $4::text[], $5::text[]::jsonb[], $6::text[])"));
    }
}
