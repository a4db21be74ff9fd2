//! SMS through a provider's HTTP API: `POST {url}` with `{"to", "text", "reference"}` and the
//! API key as a bearer token.

use std::time::Duration;

use futures_util::future::BoxFuture;

use super::{Identity, Outgoing, Provider, Receipt, SendError, classify, transport_error};
use crate::settings::SmsSettings;

pub struct HttpSmsProvider {
    identity: Identity,
    url: reqwest::Url,
    api_key: String,
    client: reqwest::Client,
}

impl HttpSmsProvider {
    pub fn new(name: &str, s: &SmsSettings, timeout: Duration) -> anyhow::Result<Self> {
        let url = reqwest::Url::parse(&s.url).map_err(|e| anyhow::anyhow!("`url`: {e}"))?;
        Ok(Self {
            identity: Identity {
                name: name.to_owned(),
                rate_per_sec: s.rate_per_sec,
            },
            url,
            api_key: s.api_key.clone(),
            client: reqwest::Client::builder().timeout(timeout).build()?,
        })
    }
}

impl Provider for HttpSmsProvider {
    fn identity(&self) -> &Identity {
        &self.identity
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
