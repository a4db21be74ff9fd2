//! SMS through a provider's HTTP API: `POST {url}` with `{"to", "text", "reference"}` and the
//! API key as a bearer token.

use std::time::Duration;

use futures_util::future::BoxFuture;

use super::{Outgoing, Provider, Receipt, SendError};
use crate::SmsSettings;

pub struct HttpSmsProvider {
    name: String,
    url: reqwest::Url,
    api_key: String,
    client: reqwest::Client,
    rate: u32,
}

impl HttpSmsProvider {
    pub fn new(name: &str, s: &SmsSettings, timeout: Duration) -> anyhow::Result<Self> {
        let url = reqwest::Url::parse(&s.url).map_err(|e| anyhow::anyhow!("`url`: {e}"))?;
        Ok(Self {
            name: name.to_owned(),
            url,
            api_key: s.api_key.clone(),
            client: reqwest::Client::builder().timeout(timeout).build()?,
            rate: s.rate_per_sec,
        })
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

impl Provider for HttpSmsProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn rate_per_sec(&self) -> u32 {
        self.rate
    }

    fn send<'a>(&'a self, msg: &'a Outgoing<'a>) -> BoxFuture<'a, Result<Receipt, SendError>> {
        Box::pin(async move {
            let resp = self
                .client
                .post(self.url.clone())
                .bearer_auth(&self.api_key)
                .json(&serde_json::json!({"to": msg.to, "text": msg.text, "reference": msg.id}))
                .send()
                .await
                .map_err(|e| transport_error(&e))?;
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            classify(status, body)
        })
    }
}
