//! Sending one planned delivery: through the channel's providers in order (failing over while
//! one is paused or over its rate), or to a webhook endpoint (disabled after a 410 or after
//! failing for too long, its owner told); and the settlement each outcome writes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use uuid::Uuid;

use super::catalog::Snapshot;
use super::dispatch::{Dispatcher, Plan};
use crate::adapters::{Breaker, Outgoing, Receipt, SendError};
use crate::domain::delivery::{AttemptOutcome, DeliveryStatus, Source};
use crate::store::deliveries::{self, Delivery, DeliveryRow};
use crate::store::dispatch::{Attempt, Settled};
use crate::store::endpoints::{self, Endpoint};

impl Dispatcher {
    fn later(&self, row: &DeliveryRow, after: Duration, why: &str) -> Settled {
        Settled {
            id: row.delivery.id,
            status: DeliveryStatus::Pending,
            next_attempt_at: Some(self.now() + after),
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
            Ok(r) => (
                DeliveryStatus::Delivered,
                None,
                None,
                AttemptOutcome::Delivered,
                r.code,
                Some(r.response),
            ),
            Err(e) => {
                let attempt = u32::try_from(row.attempts + 1).unwrap_or(u32::MAX);
                let code = e.code();
                let message = e.to_string();
                let (status, next, error, outcome) = match e {
                    SendError::Retry { .. } => match self.config.retry.delay(attempt) {
                        Some(d) => (
                            DeliveryStatus::Pending,
                            Some(self.now() + d),
                            message.clone(),
                            AttemptOutcome::Retry,
                        ),
                        None => (
                            DeliveryStatus::Failed,
                            None,
                            format!("gave up after {attempt} attempts: {message}"),
                            AttemptOutcome::Failed,
                        ),
                    },
                    SendError::Permanent { .. } => {
                        (DeliveryStatus::Failed, None, message.clone(), AttemptOutcome::Failed)
                    }
                    SendError::Gone { .. } => (DeliveryStatus::Failed, None, message.clone(), AttemptOutcome::Gone),
                };
                (status, next, Some(error), outcome, code, Some(message))
            }
        };
        Settled {
            id: row.delivery.id,
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

    pub(super) async fn execute(
        &self,
        snapshot: &Snapshot,
        row: DeliveryRow,
        plan: Plan,
        budget: &std::sync::Mutex<HashMap<String, u32>>,
    ) -> Settled {
        match plan {
            Plan::Fail(why) => Settled {
                id: row.delivery.id,
                status: DeliveryStatus::Failed,
                next_attempt_at: None,
                provider: None,
                error: Some(why),
                text: None,
                attempt: None,
            },
            Plan::Inbox { subject, body } => Settled {
                id: row.delivery.id,
                status: DeliveryStatus::Delivered,
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
                    id: row.delivery.id,
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
                        wait = wait.max(g.breaker.remaining()).min(self.config.breaker_open);
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
                        id: row.delivery.id,
                        status: DeliveryStatus::Failed,
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
                let result = self.providers.webhook.send(e, row.delivery.id, &body, self.now()).await;
                match &result {
                    Ok(_) => {
                        breaker.success();
                        if e.failing_since.is_some()
                            && let Err(err) = endpoints::endpoint_succeeded(&self.platform.pool, &[endpoint]).await
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

    async fn endpoint_failing(&self, e: &Endpoint) {
        let hours = self.config.endpoint_disable_after_hours;
        let now = self.now();
        match endpoints::endpoint_failed(&self.platform.pool, e.id, now).await {
            Ok(Some(since)) if now - since > chrono::Duration::hours(hours) => {
                let reason = format!("failing since {} ({hours} hours without a success)", since.to_rfc3339(),);
                self.disable_endpoint(e, &reason).await;
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "could not record the endpoint's failure"),
        }
    }

    /// Disables the endpoint and tells its owner in their inbox (once).
    async fn disable_endpoint(&self, e: &Endpoint, reason: &str) {
        let result = async {
            if !endpoints::disable_endpoint(&self.platform.pool, e.id, reason).await? {
                return Ok::<_, anyhow::Error>(());
            }
            tracing::warn!(endpoint_id = %e.id, url = %e.url, reason, "webhook endpoint disabled");
            let snapshot = self.catalog.reload().await?;
            let locale = self.config.defaults.default_locale.clone();
            let ctx = json!({"url": e.url, "reason": reason, "endpoint_id": e.id});
            let r = snapshot.renderer.render("endpoint_disabled", "in_app", &locale, &ctx)?;
            let mut tx = self.platform.pool.begin().await?;
            deliveries::insert_deliveries(
                &mut tx,
                &[Delivery {
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
                    source: Source::Event,
                    status: DeliveryStatus::Delivered,
                    next_attempt_at: None,
                    last_error: None,
                    trace_id: platform::telemetry::current_trace_id(),
                }],
                self.now(),
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
}
