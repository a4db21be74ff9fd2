//! Local stand-ins for the email and SMS providers while running the platform on a workstation
//! (`make run` starts it): an SMTP server on 127.0.0.1:1025 and an SMS API on 127.0.0.1:9090,
//! the addresses in notifications' default configuration. Everything they receive is printed,
//! one line per message, so developers see what the platform would send.

use std::time::Duration;

use testkit::sinks::{HttpSink, SmtpSink};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let smtp_port = port("DEVSINKS_SMTP_PORT", 1025)?;
    let sms_port = port("DEVSINKS_SMS_PORT", 9090)?;
    let smtp = SmtpSink::start_on(smtp_port).await?;
    let sms = HttpSink::start_on(sms_port).await?;
    eprintln!("devsinks: SMTP on 127.0.0.1:{smtp_port}, SMS API on 127.0.0.1:{sms_port}/sms; printing what arrives");
    let (mut mails, mut texts) = (0, 0);
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        for m in smtp.mails().iter().skip(mails) {
            eprintln!(
                "email to {}: {}",
                m.to.join(", "),
                decode_words(&m.header("Subject").unwrap_or_default())
            );
        }
        mails = smtp.count();
        for r in sms.requests().iter().skip(texts) {
            let body = r.json();
            eprintln!(
                "sms to {}: {}",
                body["to"].as_str().unwrap_or("?"),
                body["text"].as_str().unwrap_or("")
            );
        }
        texts = sms.count();
    }
}

/// Decodes RFC 2047 base64 words (`=?utf-8?b?...?=`, how non-ASCII subjects travel) for
/// display; anything else is shown as it is.
fn decode_words(header: &str) -> String {
    use base64::Engine as _;
    let mut out = String::new();
    let mut last_encoded = false;
    for word in header.split_whitespace() {
        let decoded = word
            .to_ascii_lowercase()
            .strip_prefix("=?utf-8?b?")
            .and_then(|rest| rest.strip_suffix("?="))
            .and_then(|_| {
                base64::engine::general_purpose::STANDARD
                    .decode(&word[10..word.len() - 2])
                    .ok()
            })
            .and_then(|bytes| String::from_utf8(bytes).ok());
        // Whitespace between two encoded words is not part of the text.
        let joined = last_encoded && decoded.is_some();
        if !out.is_empty() && !joined {
            out.push(' ');
        }
        last_encoded = decoded.is_some();
        out.push_str(decoded.as_deref().unwrap_or(word));
    }
    out
}

fn port(var: &str, default: u16) -> anyhow::Result<u16> {
    match std::env::var(var) {
        Ok(v) => v.parse().map_err(|e| anyhow::anyhow!("{var}: {e}")),
        Err(_) => Ok(default),
    }
}
