//! Outbound channels: email over SMTP, SMS over a provider's HTTP API and signed webhooks,
//! behind one trait per channel, with circuit breakers and rate limits.

pub mod email;
pub mod resolve;
pub mod sms;
pub mod webhook;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use uuid::Uuid;

use crate::settings::{NotificationSettings, ProviderPair};

/// A message for one address.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    /// The delivery id: stable across retries, so receivers can drop repeats.
    pub id: Uuid,
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: Option<&'a str>,
}

/// The provider's answer to a send it accepted.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub code: Option<i32>,
    pub response: String,
}

/// Why a send did not go through.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later (timeouts, 5xx, 429, 4xx SMTP replies).
    #[error("{message}")]
    Retry { code: Option<i32>, message: String },
    /// Will never work (a refused address, a 4xx API answer).
    #[error("{message}")]
    Permanent { code: Option<i32>, message: String },
    /// The receiver is gone for good (HTTP 410): stop sending to it.
    #[error("{message}")]
    Gone { code: Option<i32>, message: String },
}

impl SendError {
    pub fn code(&self) -> Option<i32> {
        match self {
            Self::Retry { code, .. } | Self::Permanent { code, .. } | Self::Gone { code, .. } => *code,
        }
    }
}

/// Classifies an HTTP answer: 2xx sent, 410 gone, 408/429/5xx worth a retry, other 4xx final.
pub fn classify(status: reqwest::StatusCode, body: String) -> Result<Receipt, SendError> {
    let code = Some(i32::from(status.as_u16()));
    let message = format!(
        "HTTP {}: {}",
        status.as_u16(),
        body.chars().take(500).collect::<String>()
    );
    if status.is_success() {
        Ok(Receipt {
            code,
            response: message,
        })
    } else if status == reqwest::StatusCode::GONE {
        Err(SendError::Gone { code, message })
    } else if status.is_server_error()
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        || status == reqwest::StatusCode::REQUEST_TIMEOUT
    {
        Err(SendError::Retry { code, message })
    } else {
        Err(SendError::Permanent { code, message })
    }
}

/// A transport error (refused, reset, timed out) is always worth a retry.
pub fn transport_error(e: &reqwest::Error) -> SendError {
    SendError::Retry {
        code: None,
        message: if e.is_timeout() {
            "timed out".to_owned()
        } else {
            format!("request failed: {e}")
        },
    }
}

/// What a provider is known by.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Unique name (`smtp-primary`), used in the log and for rate limits and breakers.
    pub name: String,
    /// Requests per second this provider takes.
    pub rate_per_sec: u32,
}

/// Sends email or SMS through one provider.
pub trait Provider: Send + Sync + 'static {
    fn identity(&self) -> &Identity;
    fn send<'a>(&'a self, msg: &'a Outgoing<'a>) -> BoxFuture<'a, Result<Receipt, SendError>>;

    /// Unique name (`smtp-primary`), used in the log and for rate limits and breakers.
    fn name(&self) -> &str {
        &self.identity().name
    }

    /// Requests per second this provider takes.
    fn rate_per_sec(&self) -> u32 {
        self.identity().rate_per_sec
    }
}

/// Pauses a provider after `threshold` failures in a row for `open_for`; then lets one probe
/// through, closing again on its success.
pub struct Breaker {
    failures: AtomicU32,
    open_until: Mutex<Option<Instant>>,
    threshold: u32,
    open_for: Duration,
}

impl Breaker {
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Self {
            failures: AtomicU32::new(0),
            open_until: Mutex::new(None),
            threshold,
            open_for,
        }
    }

    /// Whether a send may go now; past the pause, the first caller is the probe and the pause
    /// is extended for everyone else until it reports.
    pub fn allow(&self) -> bool {
        let Ok(mut open) = self.open_until.lock() else {
            return true;
        };
        match *open {
            None => true,
            Some(until) if Instant::now() >= until => {
                *open = Some(Instant::now() + self.open_for);
                true
            }
            Some(_) => false,
        }
    }

    /// How long until a paused provider may be probed (zero when closed).
    pub fn remaining(&self) -> Duration {
        self.open_until
            .lock()
            .ok()
            .and_then(|g| *g)
            .map_or(Duration::ZERO, |u| u.saturating_duration_since(Instant::now()))
    }

    pub fn is_open(&self) -> bool {
        self.remaining() > Duration::ZERO
    }

    pub fn success(&self) {
        self.failures.store(0, Ordering::Relaxed);
        if let Ok(mut open) = self.open_until.lock() {
            *open = None;
        }
    }

    /// Counts a failure; true when this one opened the breaker.
    pub fn failure(&self) -> bool {
        let n = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if n >= self.threshold
            && let Ok(mut open) = self.open_until.lock()
        {
            let was_closed = open.is_none();
            *open = Some(Instant::now() + self.open_for);
            return was_closed;
        }
        false
    }
}

/// A provider with its breaker.
pub struct Guarded {
    pub provider: Arc<dyn Provider>,
    pub breaker: Breaker,
}

/// The providers of every channel.
pub struct Providers {
    pub email: Vec<Guarded>,
    pub sms: Vec<Guarded>,
    pub webhook: webhook::WebhookSender,
    webhook_breakers: Mutex<HashMap<Uuid, Arc<Breaker>>>,
    threshold: u32,
    open_for: Duration,
}

impl Providers {
    pub fn new(email: Vec<Arc<dyn Provider>>, sms: Vec<Arc<dyn Provider>>, settings: &NotificationSettings) -> Self {
        let open_for = Duration::from_secs(settings.breaker_open_secs);
        let guard = |p: Arc<dyn Provider>| Guarded {
            provider: p,
            breaker: Breaker::new(settings.breaker_failures, open_for),
        };
        Self {
            email: email.into_iter().map(guard).collect(),
            sms: sms.into_iter().map(guard).collect(),
            webhook: webhook::WebhookSender::new(Duration::from_millis(settings.send_timeout_ms)),
            webhook_breakers: Mutex::new(HashMap::new()),
            threshold: settings.breaker_failures,
            open_for,
        }
    }

    /// The configured SMTP and SMS HTTP providers (primary, then secondary).
    pub fn from_settings(settings: &NotificationSettings) -> anyhow::Result<Self> {
        let timeout = Duration::from_millis(settings.send_timeout_ms);
        let email = configured(&settings.email, "email", |slot, s| {
            Ok(Arc::new(email::SmtpProvider::new(&format!("smtp-{slot}"), s, timeout)?))
        })?;
        let sms = configured(&settings.sms, "sms", |slot, s| {
            Ok(Arc::new(sms::HttpSmsProvider::new(&format!("sms-{slot}"), s, timeout)?))
        })?;
        Ok(Self::new(email, sms, settings))
    }

    pub fn for_channel(&self, channel: &str) -> &[Guarded] {
        match channel {
            "email" => &self.email,
            "sms" => &self.sms,
            _ => &[],
        }
    }

    /// The breaker of one webhook endpoint.
    pub fn endpoint_breaker(&self, id: Uuid) -> Arc<Breaker> {
        let mut map = match self.webhook_breakers.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        map.entry(id)
            .or_insert_with(|| Arc::new(Breaker::new(self.threshold, self.open_for)))
            .clone()
    }
}

/// The providers of a pair (primary, then secondary when set) made by `make`; an error names
/// the configuration key (`service.{channel}.{slot}`).
fn configured<S>(
    pair: &ProviderPair<S>,
    channel: &str,
    make: impl Fn(&str, &S) -> anyhow::Result<Arc<dyn Provider>>,
) -> anyhow::Result<Vec<Arc<dyn Provider>>> {
    [("primary", Some(&pair.primary)), ("secondary", pair.secondary.as_ref())]
        .into_iter()
        .filter_map(|(slot, s)| Some((slot, s?)))
        .map(|(slot, s)| {
            make(slot, s).map_err(|e| anyhow::anyhow!("configuration key `service.{channel}.{slot}`: {e}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_breaker_opens_after_the_threshold_and_probes_once() {
        let b = Breaker::new(3, Duration::from_millis(30));
        assert!(b.allow());
        assert!(!b.failure() && !b.failure());
        assert!(b.failure(), "the third failure opens it");
        assert!(!b.allow() && b.is_open());
        std::thread::sleep(Duration::from_millis(40));
        assert!(b.allow(), "one probe after the pause");
        assert!(!b.allow(), "only one");
        b.success();
        assert!(b.allow() && !b.is_open());
    }
}
