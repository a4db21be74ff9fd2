//! The delivery pipeline: claim due deliveries, plan each one (render, pick the channel's
//! providers or the endpoint), take the batch's rate-limit tokens, send them all (see
//! [`send`](super::send)) and record every outcome.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use platform::Platform;
use serde_json::json;
use tokio::sync::Notify;
use tokio::sync::futures::Notified;
use uuid::Uuid;

use super::catalog::{Catalog, Snapshot};
use crate::adapters::Providers;
use crate::domain::render::{self, RenderDefaults};
use crate::domain::schedule::RetrySchedule;
use crate::settings::NotificationSettings;
use crate::store::deliveries::{Delivery, DeliveryRow};
use crate::store::dispatch::{self, Settled};

/// Wakes idle dispatchers when new deliveries are written.
#[derive(Clone, Default)]
pub struct Waker(Arc<Notify>);

impl Waker {
    pub fn wake(&self) {
        self.0.notify_waiters();
    }

    /// Resolves on the next [`wake`](Self::wake); register it before looking for work.
    pub fn notified(&self) -> Notified<'_> {
        self.0.notified()
    }
}

/// What the pipeline needs from the settings.
pub(super) struct DispatchConfig {
    pub batch: i64,
    pub concurrency: usize,
    pub lease_secs: i64,
    pub breaker_open: Duration,
    pub webhook_rate_per_sec: u32,
    pub endpoint_disable_after_hours: i64,
    pub retry: RetrySchedule,
    pub defaults: RenderDefaults,
}

#[derive(Clone)]
pub struct Dispatcher {
    pub(super) platform: Platform,
    pub(super) catalog: Catalog,
    pub(super) providers: Arc<Providers>,
    pub(super) config: Arc<DispatchConfig>,
    waker: Waker,
}

/// What to do with one claimed delivery.
pub(super) enum Plan {
    /// In-app (scheduled or a digest): delivered by being marked so.
    Inbox {
        subject: String,
        body: String,
    },
    /// Through the channel's providers, in order.
    Provider {
        channel: String,
        to: String,
        subject: String,
        body: String,
        html: Option<String>,
        text: Option<(String, String)>,
    },
    Webhook {
        endpoint: Uuid,
        body: Vec<u8>,
    },
    /// Settled without sending (no address, a disabled endpoint).
    Fail(String),
}

impl Dispatcher {
    pub fn new(platform: Platform, catalog: Catalog, providers: Providers, settings: &NotificationSettings) -> Self {
        Self {
            platform,
            catalog,
            providers: Arc::new(providers),
            config: Arc::new(DispatchConfig {
                batch: settings.dispatch_batch,
                concurrency: settings.dispatch_concurrency,
                lease_secs: settings.lease_secs,
                breaker_open: Duration::from_secs(settings.breaker_open_secs),
                webhook_rate_per_sec: settings.webhook.rate_per_sec,
                endpoint_disable_after_hours: settings.endpoint_disable_after_hours,
                retry: settings.retry_schedule(),
                defaults: settings.render_defaults(),
            }),
            waker: Waker::default(),
        }
    }

    pub fn waker(&self) -> Waker {
        self.waker.clone()
    }

    /// The clock's time: every due time, lease, retry and failure record follows it.
    pub(super) fn now(&self) -> DateTime<Utc> {
        self.platform.clock.now()
    }

    /// Claims and sends one batch; returns how many deliveries it settled.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        let batch = dispatch::claim_due(
            &self.platform.pool,
            self.now(),
            self.config.batch,
            self.config.lease_secs,
        )
        .await?;
        if batch.is_empty() {
            return Ok(0);
        }
        let snapshot = self.catalog.get().await?;
        let mut plans = Vec::with_capacity(batch.len());
        for row in batch {
            // A database error here ends the pass; the claims lapse and are taken again.
            let plan = self.plan(&snapshot, &row).await?;
            plans.push((row, plan));
        }
        let budget = self.take_budget(&plans).await;
        let budget = std::sync::Mutex::new(budget);
        let settled: Vec<Settled> = futures_util::stream::iter(plans)
            .map(|(row, plan)| {
                let snapshot = &snapshot;
                let budget = &budget;
                async move { self.execute(snapshot, row, plan, budget).await }
            })
            .buffer_unordered(self.config.concurrency)
            .collect()
            .await;
        let n = settled.len();
        dispatch::settle(&self.platform.pool, &settled, self.now()).await?;
        Ok(n)
    }

    async fn plan(&self, snapshot: &Snapshot, row: &DeliveryRow) -> Result<Plan, sqlx::Error> {
        let d = &row.delivery;
        let (mut subject, mut body, mut html, mut text) = (d.title.clone(), d.body.clone(), d.html.clone(), None);
        // A delivery whose template failed keeps the event's data: rendered again (a resend
        // after the template was fixed).
        if d.channel != "webhook"
            && d.kind != "digest"
            && subject.is_empty()
            && body.is_empty()
            && let Some(data) = &d.payload
        {
            let ctx = render::context(data, &self.config.defaults.public_base_url, &d.event_type);
            match snapshot.renderer.render(&d.kind, &d.channel, &d.locale, &ctx) {
                Ok(r) => {
                    text = Some((r.subject.clone(), r.body.clone()));
                    subject = r.subject;
                    body = r.body;
                    html = r.html;
                }
                Err(e) => return Ok(Plan::Fail(e.to_string())),
            }
        }
        if d.kind == "digest" {
            match self.render_digest(snapshot, d).await? {
                Ok((s, b)) => {
                    text = Some((s.clone(), b.clone()));
                    subject = s;
                    body = b;
                }
                Err(e) => return Ok(Plan::Fail(e)),
            }
        }
        Ok(match d.channel.as_str() {
            "in_app" => Plan::Inbox { subject, body },
            "webhook" => match (d.endpoint_id, d.payload.as_ref()) {
                (Some(endpoint), Some(payload)) => match snapshot.endpoint(endpoint) {
                    Some(e) if e.enabled => Plan::Webhook {
                        endpoint,
                        body: serde_json::to_vec(payload).unwrap_or_default(),
                    },
                    Some(e) => Plan::Fail(format!(
                        "endpoint disabled: {}",
                        e.disabled_reason.as_deref().unwrap_or("by an admin")
                    )),
                    None => Plan::Fail("endpoint deleted".to_owned()),
                },
                _ => Plan::Fail("webhook delivery without an endpoint or payload".to_owned()),
            },
            channel => match d.address.as_deref() {
                Some(to) if !to.is_empty() => Plan::Provider {
                    channel: channel.to_owned(),
                    to: to.to_owned(),
                    subject,
                    body,
                    html,
                    text,
                },
                _ => Plan::Fail(format!("the recipient has no {channel} address")),
            },
        })
    }

    /// The digest's title and text from its items; `Err` inside when the template fails.
    async fn render_digest(
        &self,
        snapshot: &Snapshot,
        digest: &Delivery,
    ) -> Result<Result<(String, String), String>, sqlx::Error> {
        let items = dispatch::digest_items(&self.platform.pool, digest.id).await?;
        let ctx = json!({
            "items": items.iter().map(|i| json!({"title": i.delivery.title, "body": i.delivery.body, "kind": i.delivery.kind, "at": i.created_at})).collect::<Vec<_>>(),
        });
        Ok(snapshot
            .renderer
            .render("digest", &digest.channel, &digest.locale, &ctx)
            .map(|r| (r.subject, r.body))
            .map_err(|e| e.to_string()))
    }

    /// Rate-limit tokens for this batch, per provider and per endpoint (shared by replicas).
    async fn take_budget(&self, plans: &[(DeliveryRow, Plan)]) -> HashMap<String, u32> {
        let mut wanted: HashMap<String, (u32, u32)> = HashMap::new();
        for (_, plan) in plans {
            match plan {
                // The first provider not paused is the one expected to send it; a failover
                // takes a token when it happens.
                Plan::Provider { channel, .. } => {
                    if let Some(g) = self
                        .providers
                        .for_channel(channel)
                        .iter()
                        .find(|g| !g.breaker.is_open())
                    {
                        wanted
                            .entry(g.provider.name().to_owned())
                            .or_insert((0, g.provider.rate_per_sec()))
                            .0 += 1;
                    }
                }
                Plan::Webhook { endpoint, .. } => {
                    wanted
                        .entry(format!("webhook:{endpoint}"))
                        .or_insert((0, self.config.webhook_rate_per_sec))
                        .0 += 1;
                }
                _ => {}
            }
        }
        let mut budget = HashMap::new();
        for (name, (n, limit)) in wanted {
            let granted = self.take_tokens(&name, n, limit).await;
            budget.insert(name, granted);
        }
        budget
    }

    /// Up to `n` of this second's `limit` tokens of `name`, shared by replicas.
    pub(super) async fn take_tokens(&self, name: &str, n: u32, limit: u32) -> u32 {
        let key = self.platform.redis.keys.key(&["rate", name]);
        match self.platform.redis.take_tokens(&key, n, limit).await {
            Ok(g) => g,
            Err(e) => {
                // Without Redis, each replica keeps to the limit on its own.
                tracing::warn!(error = %e, "rate limiter unavailable; limiting locally");
                n.min(limit)
            }
        }
    }

    pub(super) fn spend(budget: &std::sync::Mutex<HashMap<String, u32>>, name: &str) -> bool {
        let Ok(mut b) = budget.lock() else { return false };
        match b.get_mut(name) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }
}
