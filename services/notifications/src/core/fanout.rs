//! Every consumed event becomes deliveries: per matching rule, recipient and channel, plus one
//! per subscribed webhook endpoint; written in the consumer's transaction, so a redelivered
//! event never produces a second message. Direct sends build theirs the same way.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use contracts::RawEnvelope;
use platform::bus::consumer::HandlerError;
use platform::{Clock, Tx};
use serde_json::Value;
use uuid::Uuid;

use super::catalog::{Catalog, Snapshot};
use crate::domain::delivery::{DeliveryStatus, Source};
use crate::domain::locale_of;
use crate::domain::render::{self, RenderDefaults, Renderer};
use crate::domain::rules::{self, Rule};
use crate::domain::schedule::QuietHours;
use crate::store::deliveries::{self, Delivery};
use crate::store::recipients::{self, RecipientRow};

/// What a message about one event says and to whom, before it is split into channels.
pub struct Request<'a> {
    pub event_id: Uuid,
    pub event_type: &'a str,
    pub source: Source,
    pub notification: &'a str,
    pub category: &'a str,
    pub urgency: &'a str,
    pub channels: &'a [String],
    pub digest_secs: Option<i32>,
    /// The template's data.
    pub data: &'a Value,
    /// Send no earlier than this (scheduled sends).
    pub not_before: Option<DateTime<Utc>>,
}

/// Deliveries about to be written: plain ones, and digest items with their window.
#[derive(Default)]
pub struct Batch {
    pub rows: Vec<Delivery>,
    pub digest_items: Vec<(Delivery, i32)>,
}

impl Batch {
    /// Writes everything at `now` (the time [`add`](Self::add) planned with): the plain
    /// deliveries in one statement; returns how many were new.
    pub async fn write(self, tx: &mut Tx, now: DateTime<Utc>) -> Result<usize, HandlerError> {
        let mut written = deliveries::insert_deliveries(tx, &self.rows, now).await?.len();
        for (item, window) in &self.digest_items {
            written += usize::from(deliveries::insert_digest_item(tx, item, *window, now).await?);
        }
        Ok(written)
    }

    /// Adds the deliveries of `req` for `recipient_id` as of `now` (the clock's time): per
    /// channel, rendered in the recipient's locale, suppressed when opted out, held through
    /// quiet hours.
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        renderer: &Renderer,
        defaults: &RenderDefaults,
        req: &Request<'_>,
        recipient_id: Uuid,
        prefs: Option<&RecipientRow>,
        trace_id: Option<String>,
        now: DateTime<Utc>,
    ) {
        let locale = prefs
            .and_then(|p| p.locale.clone())
            .or_else(|| req.data.get("language").and_then(Value::as_str).map(str::to_owned))
            .map_or_else(|| defaults.default_locale.clone(), |l| locale_of(&l));
        let quiet = prefs.and_then(|p| {
            Some(QuietHours {
                tz: p.time_zone.parse().ok()?,
                start: p.quiet_start?,
                end: p.quiet_end?,
            })
        });
        let ctx = render::context(req.data, &defaults.public_base_url, req.event_type);
        for channel in req.channels {
            let address = match channel.as_str() {
                "email" => prefs.and_then(|p| p.email.clone()),
                "sms" => prefs.and_then(|p| p.phone.clone()),
                _ => None,
            };
            if channel != "in_app" && address.is_none() {
                tracing::debug!(%recipient_id, channel, "no address on this channel; skipped");
                continue;
            }
            let opted_out = prefs.is_some_and(|p| rules::opted_out(req.category, req.urgency, &p.opt_outs, channel));
            let rendered = renderer.render(req.notification, channel, &locale, &ctx);
            let (title, body, html, used_locale, render_error) = match rendered {
                Ok(r) => (r.subject, r.body, r.html, r.locale, None),
                Err(e) => {
                    tracing::error!(notification = req.notification, channel, error = %e, "template does not render; delivery failed");
                    (String::new(), String::new(), None, locale.clone(), Some(e.to_string()))
                }
            };
            let mut due = req.not_before.filter(|t| *t > now).unwrap_or(now);
            if rules::waits_for_morning(req.urgency, channel)
                && let Some(release) = quiet.and_then(|q| q.release(due))
            {
                due = release;
            }
            let (status, next) = if render_error.is_some() {
                (DeliveryStatus::Failed, None)
            } else if opted_out {
                (DeliveryStatus::Suppressed, None)
            } else if channel == "in_app" && due <= now {
                (DeliveryStatus::Delivered, None)
            } else {
                (DeliveryStatus::Pending, Some(due))
            };
            let row = Delivery {
                id: Uuid::now_v7(),
                event_id: req.event_id,
                event_type: req.event_type.to_owned(),
                recipient_id,
                channel: channel.clone(),
                kind: req.notification.to_owned(),
                category: req.category.to_owned(),
                urgency: req.urgency.to_owned(),
                locale: used_locale,
                title,
                body,
                html,
                address,
                endpoint_id: None,
                payload: render_error.is_some().then(|| req.data.clone()),
                source: req.source,
                status,
                next_attempt_at: next,
                last_error: render_error.or_else(|| opted_out.then(|| format!("opted out of {}", req.category))),
                trace_id: trace_id.clone(),
            };
            match req.digest_secs {
                Some(window) if matches!(status, DeliveryStatus::Delivered | DeliveryStatus::Pending) => {
                    self.digest_items.push((row, window))
                }
                _ => self.rows.push(row),
            }
        }
    }
}

/// Turns consumed events into deliveries.
pub struct Fanout {
    catalog: Catalog,
    defaults: RenderDefaults,
    clock: Clock,
}

impl Fanout {
    /// Deliveries are planned and written at `clock`'s time.
    pub fn new(catalog: Catalog, defaults: RenderDefaults, clock: Clock) -> Self {
        Self {
            catalog,
            defaults,
            clock,
        }
    }

    /// The rules that match `event` and their recipients.
    fn targets<'s>(snapshot: &'s Snapshot, event: &RawEnvelope) -> Vec<(&'s Rule, Uuid)> {
        snapshot
            .rules_for(&event.event_type)
            .iter()
            .filter(|r| r.matches(&event.data))
            .filter_map(|r| match r.recipient_in(&event.data) {
                Some(id) => Some((r, id)),
                None => {
                    tracing::debug!(rule = %r.name, "the event names no recipient for this rule");
                    None
                }
            })
            .collect()
    }

    /// Adds every delivery `event` causes to `batch` (rules and webhook subscriptions).
    fn build_event(
        &self,
        batch: &mut Batch,
        snapshot: &Snapshot,
        event: &RawEnvelope,
        prefs: &HashMap<Uuid, RecipientRow>,
        trace_id: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), HandlerError> {
        for (rule, recipient) in Self::targets(snapshot, event) {
            let req = Request {
                event_id: event.id,
                event_type: &event.event_type,
                source: Source::Event,
                notification: &rule.notification,
                category: &rule.category,
                urgency: &rule.urgency,
                channels: &rule.channels,
                digest_secs: rule.digest_secs,
                data: &event.data,
                not_before: None,
            };
            batch.add(
                &snapshot.renderer,
                &self.defaults,
                &req,
                recipient,
                prefs.get(&recipient),
                trace_id.clone(),
                now,
            );
        }
        let endpoints: Vec<_> = snapshot.endpoints_for(&event.event_type).collect();
        if !endpoints.is_empty() {
            let payload = serde_json::to_value(event).map_err(|e| HandlerError::Reject(e.into()))?;
            for e in endpoints {
                batch.rows.push(Delivery {
                    id: Uuid::now_v7(),
                    event_id: event.id,
                    event_type: event.event_type.clone(),
                    recipient_id: e.id,
                    channel: "webhook".to_owned(),
                    kind: event.event_type.clone(),
                    category: "webhook".to_owned(),
                    urgency: "urgent".to_owned(),
                    locale: String::new(),
                    title: event.event_type.clone(),
                    body: String::new(),
                    html: None,
                    address: Some(e.url.clone()),
                    endpoint_id: Some(e.id),
                    payload: Some(payload.clone()),
                    source: Source::Event,
                    status: DeliveryStatus::Pending,
                    next_attempt_at: Some(now),
                    last_error: None,
                    trace_id: trace_id.clone(),
                });
            }
        }
        Ok(())
    }

    /// Turns `events` into deliveries with one preferences query and one insert.
    pub async fn notify(&self, tx: &mut Tx, events: &[(&RawEnvelope, tracing::Span)]) -> Result<(), HandlerError> {
        let snapshot = self.catalog.get().await.map_err(HandlerError::classify)?;
        let mut ids: Vec<Uuid> = events
            .iter()
            .flat_map(|(e, _)| Self::targets(&snapshot, e).into_iter().map(|(_, id)| id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let prefs: HashMap<Uuid, RecipientRow> = if ids.is_empty() {
            HashMap::new()
        } else {
            recipients::recipients(&mut **tx, &ids)
                .await?
                .into_iter()
                .map(|r| (r.id, r))
                .collect()
        };
        let now = self.clock.now();
        let mut batch = Batch::default();
        for (event, span) in events {
            let trace_id = span.in_scope(platform::telemetry::current_trace_id);
            self.build_event(&mut batch, &snapshot, event, &prefs, trace_id, now)?;
        }
        if batch.rows.is_empty() && batch.digest_items.is_empty() {
            return Ok(());
        }
        let written = batch.write(tx, now).await?;
        tracing::debug!(events = events.len(), written, "deliveries written");
        Ok(())
    }
}
