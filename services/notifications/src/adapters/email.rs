//! Email over SMTP (lettre), multipart text and HTML.

use std::time::Duration;

use futures_util::future::BoxFuture;
use lettre::message::{Mailbox, MultiPart, header};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{Identity, Outgoing, Provider, Receipt, SendError};
use crate::domain::render::text_to_html;
use crate::settings::SmtpSettings;

pub struct SmtpProvider {
    identity: Identity,
    from: Mailbox,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl SmtpProvider {
    pub fn new(name: &str, s: &SmtpSettings, timeout: Duration) -> anyhow::Result<Self> {
        let from: Mailbox = s
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("`from` is not an address: {e}"))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&s.url)
            .map_err(|e| anyhow::anyhow!("`url` is not an SMTP URL: {e}"))?
            .timeout(Some(timeout))
            .build();
        Ok(Self {
            identity: Identity {
                name: name.to_owned(),
                rate_per_sec: s.rate_per_sec,
            },
            from,
            transport,
        })
    }

    fn message(&self, msg: &Outgoing<'_>) -> Result<Message, SendError> {
        let to: Mailbox = msg.to.parse().map_err(|e| SendError::Permanent {
            code: None,
            message: format!("not an email address ({}): {e}", msg.to),
        })?;
        let html = msg.html.map_or_else(|| text_to_html(msg.text), str::to_owned);
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(msg.subject)
            .message_id(Some(format!("<{}@notifications.edu-support>", msg.id)))
            .header(header::MIME_VERSION_1_0)
            .multipart(MultiPart::alternative_plain_html(msg.text.to_owned(), html))
            .map_err(|e| SendError::Permanent {
                code: None,
                message: format!("the message cannot be built: {e}"),
            })
    }
}

impl Provider for SmtpProvider {
    fn identity(&self) -> &Identity {
        &self.identity
    }

    fn send<'a>(&'a self, msg: &'a Outgoing<'a>) -> BoxFuture<'a, Result<Receipt, SendError>> {
        Box::pin(async move {
            let m = self.message(msg)?;
            match self.transport.send(m).await {
                Ok(resp) => Ok(Receipt {
                    code: Some(i32::from(u16::from(resp.code()))),
                    response: resp.message().collect::<Vec<_>>().join(" "),
                }),
                Err(e) => {
                    let code = e.status().map(|c| i32::from(u16::from(c)));
                    let message = format!("SMTP: {e}");
                    if e.is_permanent() {
                        Err(SendError::Permanent { code, message })
                    } else {
                        Err(SendError::Retry { code, message })
                    }
                }
            }
        })
    }
}
