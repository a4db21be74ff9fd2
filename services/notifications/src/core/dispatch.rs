//! The delivery pipeline: claim due deliveries, send them through the channel's providers
//! (failing over while one is paused), and record every attempt.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use platform::{Platform, Task};
use serde_json::json;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::NotificationSettings;
use crate::catalog::{Catalog, Snapshot};
use crate::channels::{Breaker, Outgoing, Providers, Receipt, SendError};
use crate::domain::render;
use crate::domain::schedule::retry_delay;
use crate::store::{self, Attempt, DeliveryRow, NewDelivery, Settled};

/// Wakes idle dispatchers when new deliveries are written.
#[derive(Clone, Default)]
pub struct Waker(Arc<Notify>);

impl Waker {
    pub fn wake(&self) {
        self.0.notify_waiters();
    }
}

#[derive(Clone)]
pub struct Dispatcher {
    platform: Platform,
    catalog: Catalog,
    providers: Arc<Providers>,
    settings: Arc<NotificationSettings>,
    waker: Waker,
}

/// What to do with one claimed delivery.
enum Plan {
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
    pub fn new(
        platform: Platform,
        catalog: Catalog,
        providers: Providers,
        settings: Arc<NotificationSettings>,
    ) -> Self {
        Self {
            platform,
            catalog,
            providers: Arc::new(providers),
            settings,
            waker: Waker::default(),
        }
    }

    pub fn waker(&self) -> Waker {
        self.waker.clone()
    }

    /// Claims and sends one batch; returns how many deliveries it settled.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        let batch = store::claim_due(
            &self.platform.pool,
            self.settings.dispatch_batch,
            self.settings.lease_secs,
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
            .buffer_unordered(self.settings.dispatch_concurrency)
            .collect()
            .await;
        let n = settled.len();
        store::settle(&self.platform.pool, &settled).await?;
        Ok(n)
    }

    async fn plan(&self, snapshot: &Snapshot, row: &DeliveryRow) -> Result<Plan, sqlx::Error> {
        let (mut subject, mut body, mut html, mut text) = (row.title.clone(), row.body.clone(), row.html.clone(), None);
        // A delivery whose template failed keeps the event's data: rendered again (a resend
        // after the template was fixed).
        if row.channel != "webhook"
            && row.kind != "digest"
            && subject.is_empty()
            && body.is_empty()
            && let Some(data) = &row.payload
        {
            let ctx = render::context(data, &self.settings.public_base_url, &row.event_type);
            match snapshot.renderer.render(&row.kind, &row.channel, &row.locale, &ctx) {
                Ok(r) => {
                    text = Some((r.subject.clone(), r.body.clone()));
                    subject = r.subject;
                    body = r.body;
                    html = r.html;
                }
                Err(e) => return Ok(Plan::Fail(e.to_string())),
            }
        }
        if row.kind == "digest" {
            match self.render_digest(snapshot, row).await? {
                Ok((s, b)) => {
                    text = Some((s.clone(), b.clone()));
                    subject = s;
                    body = b;
                }
                Err(e) => return Ok(Plan::Fail(e)),
            }
        }
        Ok(match row.channel.as_str() {
            "in_app" => Plan::Inbox { subject, body },
            "webhook" => match (row.endpoint_id, row.payload.as_ref()) {
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
            channel => match row.address.as_deref() {
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
        row: &DeliveryRow,
    ) -> Result<Result<(String, String), String>, sqlx::Error> {
        let items = store::digest_items(&self.platform.pool, row.id).await?;
        let ctx = json!({
            "items": items.iter().map(|i| json!({"title": i.title, "body": i.body, "kind": i.kind, "at": i.created_at})).collect::<Vec<_>>(),
        });
        Ok(snapshot
            .renderer
            .render("digest", &row.channel, &row.locale, &ctx)
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
                        .or_insert((0, self.settings.webhook.rate_per_sec))
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
    async fn take_tokens(&self, name: &str, n: u32, limit: u32) -> u32 {
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

    fn spend(budget: &std::sync::Mutex<HashMap<String, u32>>, name: &str) -> bool {
        let Ok(mut b) = budget.lock() else { return false };
        match b.get_mut(name) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    fn later(&self, row: &DeliveryRow, after: Duration, why: &str) -> Settled {
        Settled {
            id: row.id,
            status: "pending",
            next_attempt_at: Some(Utc::now() + after),
            provider: None,
            error: Some(why.to_owned()),
            text: None,
            attempt: None,
        }
    }

    /// The settlement after an attempt: delivered, retried on the schedule, or failed.
    fn after_attempt(
        &self,
        row: &DeliveryRow,
        provider: &str,
        started: Instant,
        result: Result<Receipt, SendError>,
        text: Option<(String, String)>,
    ) -> Settled {
        let duration_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        let (status, next, error, outcome, code, response) = match result {
            Ok(r) => ("delivered", None, None, "delivered", r.code, Some(r.response)),
            Err(e) => {
                let attempt = u32::try_from(row.attempts + 1).unwrap_or(u32::MAX);
                let code = e.code();
                let message = e.to_string();
                match e {
                    SendError::Retry { .. } => {
                        match retry_delay(attempt, &self.settings.retry_schedule_secs, self.settings.retry_jitter) {
                            Some(d) => (
                                "pending",
                                Some(Utc::now() + d),
                                Some(message.clone()),
                                "retry",
                                code,
                                Some(message),
                            ),
                            None => (
                                "failed",
                                None,
                                Some(format!("gave up after {attempt} attempts: {message}")),
                                "failed",
                                code,
                                Some(message),
                            ),
                        }
                    }
                    SendError::Permanent { .. } => {
                        ("failed", None, Some(message.clone()), "failed", code, Some(message))
                    }
                    SendError::Gone { .. } => ("failed", None, Some(message.clone()), "gone", code, Some(message)),
                }
            }
        };
        Settled {
            id: row.id,
            status,
            next_attempt_at: next,
            provider: Some(provider.to_owned()),
            error,
            text,
            attempt: Some(Attempt {
                outcome,
                status_code: code,
                response: response.map(|r| r.chars().take(1000).collect()),
                duration_ms,
            }),
        }
    }

    async fn execute(
        &self,
        snapshot: &Snapshot,
        row: DeliveryRow,
        plan: Plan,
        budget: &std::sync::Mutex<HashMap<String, u32>>,
    ) -> Settled {
        match plan {
            Plan::Fail(why) => Settled {
                id: row.id,
                status: "failed",
                next_attempt_at: None,
                provider: None,
                error: Some(why),
                text: None,
                attempt: None,
            },
            Plan::Inbox { subject, body } => Settled {
                id: row.id,
                status: "delivered",
                next_attempt_at: None,
                provider: Some("inbox".to_owned()),
                error: None,
                text: Some((subject, body)),
                attempt: None,
            },
            Plan::Provider {
                channel,
                to,
                subject,
                body,
                html,
                text,
            } => {
                let msg = Outgoing {
                    id: row.id,
                    to: &to,
                    subject: &subject,
                    text: &body,
                    html: html.as_deref(),
                };
                let guarded = self.providers.for_channel(&channel);
                let mut last: Option<(String, Result<Receipt, SendError>, Instant)> = None;
                let mut wait = Duration::from_secs(1);
                for g in guarded {
                    if !g.breaker.allow() {
                        wait = wait
                            .max(g.breaker.remaining())
                            .min(Duration::from_secs(self.settings.breaker_open_secs));
                        continue;
                    }
                    // The batch's tokens went to the expected provider; a failover takes its own.
                    if !Self::spend(budget, g.provider.name())
                        && self.take_tokens(g.provider.name(), 1, g.provider.rate_per_sec()).await == 0
                    {
                        continue;
                    }
                    let started = Instant::now();
                    let result = g.provider.send(&msg).await;
                    match &result {
                        Ok(_) => g.breaker.success(),
                        Err(SendError::Retry { .. }) => {
                            if g.breaker.failure() {
                                tracing::warn!(
                                    provider = g.provider.name(),
                                    "provider paused after repeated failures; failing over"
                                );
                            }
                        }
                        Err(_) => {}
                    }
                    let retry = matches!(result, Err(SendError::Retry { .. }));
                    last = Some((g.provider.name().to_owned(), result, started));
                    if !retry {
                        break;
                    }
                }
                match last {
                    Some((provider, result, started)) => self.after_attempt(&row, &provider, started, result, text),
                    None if guarded.is_empty() => Settled {
                        id: row.id,
                        status: "failed",
                        next_attempt_at: None,
                        provider: None,
                        error: Some(format!("no provider configured for {channel}")),
                        text: None,
                        attempt: None,
                    },
                    // Every provider paused or over its rate: not an attempt; try again soon.
                    None => self.later(&row, wait, "every provider paused or at its rate limit"),
                }
            }
            Plan::Webhook { endpoint, body } => {
                let Some(e) = snapshot.endpoint(endpoint) else {
                    return self.later(&row, Duration::from_secs(1), "endpoint not loaded");
                };
                let breaker: Arc<Breaker> = self.providers.endpoint_breaker(endpoint);
                if !breaker.allow() {
                    return self.later(
                        &row,
                        breaker.remaining().max(Duration::from_secs(1)),
                        "endpoint paused after repeated failures",
                    );
                }
                if !Self::spend(budget, &format!("webhook:{endpoint}")) {
                    return self.later(&row, Duration::from_secs(1), "endpoint at its rate limit");
                }
                let started = Instant::now();
                let result = self.providers.webhook.send(e, row.id, &body).await;
                match &result {
                    Ok(_) => {
                        breaker.success();
                        if e.failing_since.is_some()
                            && let Err(err) = store::endpoint_succeeded(&self.platform.pool, &[endpoint]).await
                        {
                            tracing::warn!(error = %err, "could not clear the endpoint's failure record");
                        }
                    }
                    Err(SendError::Gone { .. }) => {
                        self.disable_endpoint(e, "the endpoint answered 410 Gone").await;
                    }
                    Err(_) => {
                        breaker.failure();
                        self.endpoint_failing(e).await;
                    }
                }
                self.after_attempt(&row, &format!("webhook:{endpoint}"), started, result, None)
            }
        }
    }

    async fn endpoint_failing(&self, e: &store::Endpoint) {
        match store::endpoint_failed(&self.platform.pool, e.id).await {
            Ok(Some(since))
                if Utc::now() - since > chrono::Duration::hours(self.settings.endpoint_disable_after_hours) =>
            {
                let reason = format!(
                    "failing since {} ({} hours without a success)",
                    since.to_rfc3339(),
                    self.settings.endpoint_disable_after_hours
                );
                self.disable_endpoint(e, &reason).await;
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "could not record the endpoint's failure"),
        }
    }

    /// Disables the endpoint and tells its owner in their inbox (once).
    async fn disable_endpoint(&self, e: &store::Endpoint, reason: &str) {
        let result = async {
            if !store::disable_endpoint(&self.platform.pool, e.id, reason).await? {
                return Ok::<_, anyhow::Error>(());
            }
            tracing::warn!(endpoint_id = %e.id, url = %e.url, reason, "webhook endpoint disabled");
            let snapshot = self.catalog.reload().await?;
            let locale = self.settings.default_locale.clone();
            let ctx = json!({"url": e.url, "reason": reason, "endpoint_id": e.id});
            let r = snapshot.renderer.render("endpoint_disabled", "in_app", &locale, &ctx)?;
            let mut tx = self.platform.pool.begin().await?;
            store::insert_deliveries(
                &mut tx,
                &[NewDelivery {
                    id: Uuid::now_v7(),
                    event_id: Uuid::now_v7(),
                    event_type: "notifications.endpoint.disabled".to_owned(),
                    recipient_id: e.owner_id,
                    channel: "in_app".to_owned(),
                    kind: "endpoint_disabled".to_owned(),
                    category: "system".to_owned(),
                    urgency: "urgent".to_owned(),
                    locale: r.locale,
                    title: r.subject,
                    body: r.body,
                    html: None,
                    address: None,
                    endpoint_id: Some(e.id),
                    payload: None,
                    source: "event",
                    status: "delivered",
                    next_attempt_at: None,
                    last_error: None,
                    trace_id: platform::telemetry::current_trace_id(),
                }],
            )
            .await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        if let Err(err) = result {
            tracing::error!(endpoint_id = %e.id, error = %format!("{err:#}"), "could not disable the endpoint");
        }
    }

    async fn run_loop(self, cancel: CancellationToken) {
        let idle = Duration::from_millis(self.settings.idle_poll_ms);
        let mut backoff = Duration::from_millis(200);
        loop {
            if cancel.is_cancelled() {
                return;
            }
            // Register for a wake-up before looking, so a write in between is not missed.
            let notified = self.waker.0.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.run_once().await {
                Ok(n) if n > 0 => {
                    backoff = Duration::from_millis(200);
                    continue;
                }
                Ok(_) => {
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = &mut notified => {}
                        _ = tokio::time::sleep(idle) => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), retry_in_ms = backoff.as_millis() as u64, "dispatch failed");
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    }
}

impl Task for Dispatcher {
    fn run(self: Box<Self>, cancel: CancellationToken) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..self.settings.dispatch_loops {
                set.spawn(self.as_ref().clone().run_loop(cancel.clone()));
            }
            while set.join_next().await.is_some() {}
        })
    }
}
