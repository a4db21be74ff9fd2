//! Signed webhooks to subscriber endpoints, with connections pinned to checked addresses.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Receipt, SendError, classify, resolve, transport_error};
use crate::domain::{address, webhook};
use crate::store::endpoints::Endpoint;

/// How long a resolved and checked address is trusted before it is resolved again.
const PIN_FOR: Duration = Duration::from_secs(60);

pub struct WebhookSender {
    timeout: Duration,
    /// Per endpoint: a client whose connections go only to the addresses that were checked.
    clients: Mutex<HashMap<Uuid, (reqwest::Client, String, Instant)>>,
}

impl WebhookSender {
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            clients: Mutex::new(HashMap::new()),
        }
    }

    async fn client(&self, e: &Endpoint) -> Result<reqwest::Client, SendError> {
        if let Ok(map) = self.clients.lock()
            && let Some((c, url, at)) = map.get(&e.id)
            && *url == e.url
            && at.elapsed() < PIN_FOR
        {
            return Ok(c.clone());
        }
        let refuse = |message: String| SendError::Permanent { code: None, message };
        let url = address::parse_endpoint(&e.url).map_err(|x| refuse(x.to_string()))?;
        let addrs = resolve::check(&url, e.allow_private).await.map_err(|x| match x {
            address::AddressError::Unresolvable(_) => SendError::Retry {
                code: None,
                message: x.to_string(),
            },
            other => refuse(other.to_string()),
        })?;
        let host = url.host_str().unwrap_or_default().to_owned();
        let client = reqwest::Client::builder()
            .timeout(self.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .resolve_to_addrs(&host, &addrs)
            .build()
            .map_err(|x| refuse(x.to_string()))?;
        if let Ok(mut map) = self.clients.lock() {
            map.insert(e.id, (client.clone(), e.url.clone(), Instant::now()));
        }
        Ok(client)
    }

    /// Posts `body` to the endpoint, signed with its secret (and the previous one while a
    /// rotation overlaps at `now`, the clock's time).
    pub async fn send(
        &self,
        e: &Endpoint,
        delivery_id: Uuid,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Receipt, SendError> {
        let secret = webhook::Secret::parse(&e.secret).map_err(|x| SendError::Permanent {
            code: None,
            message: format!("endpoint secret: {x}"),
        })?;
        let previous = e
            .previous_secret
            .as_deref()
            .filter(|_| e.previous_until.is_some_and(|u| u > now))
            .and_then(|s| webhook::Secret::parse(s).ok());
        let mut secrets = vec![&secret];
        if let Some(p) = previous.as_ref() {
            secrets.push(p);
        }
        let msg_id = format!("msg_{}", delivery_id.simple());
        let client = self.client(e).await?;
        let mut req = client
            .post(&e.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_vec());
        // The signature's timestamp is checked by the receiver against its own (real) clock to
        // refuse replays, so it is the system time, not the service's clock.
        let signed_at = Utc::now().timestamp();
        for (name, value) in webhook::headers(&msg_id, signed_at, body, &secrets) {
            req = req.header(name, value);
        }
        let resp = req.send().await.map_err(|x| transport_error(&x))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        match classify(status, text) {
            // Any other refusal may be a passing fault of the receiver: retried.
            Err(SendError::Permanent { code, message }) => Err(SendError::Retry { code, message }),
            other => other,
        }
    }
}
