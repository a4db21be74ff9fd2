//! Templates rendered with minijinja: per notification, channel and locale, with fallbacks.

use std::collections::HashSet;

use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One stored template version.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Template {
    pub notification: String,
    /// `in_app`, `email` or `sms`; `in_app` templates serve channels that have none.
    pub channel: String,
    pub locale: String,
    pub version: i32,
    /// The title (in-app) or subject (email); unused by SMS.
    pub subject: String,
    /// Plain text.
    pub body: String,
    /// Email HTML; when absent, the text is sent as simple HTML paragraphs.
    pub html: Option<String>,
}

/// A message ready to send.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
    pub html: Option<String>,
    /// The template version used.
    pub version: i32,
    /// The locale actually used (the fallback when the recipient's had no template).
    pub locale: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("no template for {notification} on {channel} in {locale} or the fallback locale")]
    Missing {
        notification: String,
        channel: String,
        locale: String,
    },
    #[error("template {name} does not render: {reason}")]
    Failed { name: String, reason: String },
}

/// Compiled templates (latest versions), shared by every render.
pub struct Renderer {
    env: Environment<'static>,
    versions: std::collections::HashMap<String, i32>,
    fallback: String,
}

fn key(notification: &str, channel: &str, locale: &str) -> String {
    format!("{notification}|{channel}|{locale}")
}

/// `{{ id|ref }}`: the short reference customers see (first 8 hex digits, upper case).
fn short_ref(v: String) -> String {
    v.chars()
        .filter(|c| *c != '-')
        .take(8)
        .collect::<String>()
        .to_uppercase()
}

fn metric_zh(v: String) -> String {
    match v.as_str() {
        "first_response" => "首次响应",
        "next_update" => "进度更新",
        "resolution" => "问题解决",
        _ => return v,
    }
    .to_owned()
}

/// Instructions one render may execute: far more than any message needs (a loop over a few
/// hundred items), far fewer than a runaway loop; rendering time is bounded with it.
pub const RENDER_FUEL: u64 = 200_000;
/// Bytes one rendered part may have.
pub const MAX_RENDERED_BYTES: usize = 256 * 1024;

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    env.set_fuel(Some(RENDER_FUEL));
    env.add_filter("ref", short_ref);
    env.add_filter("metric_zh", metric_zh);
    env
}

/// Renders a template's parts once with no data (missing values, and their attributes,
/// render empty) within the render bounds, so a template that cannot finish is refused before
/// it is saved; the error names the part.
pub fn trial_render(subject: &str, body: &str, html: Option<&str>) -> Result<(), (String, String)> {
    compile_check(subject, body, html)?;
    let mut env = environment();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    for (part, src) in [("subject", Some(subject)), ("body", Some(body)), ("html", html)] {
        if let Some(src) = src {
            let t = env
                .template_from_str(src)
                .map_err(|e| (part.to_owned(), e.to_string()))?;
            bounded(&t, &minijinja::Value::UNDEFINED).map_err(|e| (part.to_owned(), describe(&e)))?;
        }
    }
    Ok(())
}

/// Renders `t` with `ctx` into at most [`MAX_RENDERED_BYTES`].
fn bounded(t: &minijinja::Template<'_, '_>, ctx: &minijinja::Value) -> Result<String, minijinja::Error> {
    let mut out = Bounded(Vec::new());
    t.render_captured_to(ctx, &mut out)?;
    Ok(String::from_utf8_lossy(&out.0).into_owned())
}

/// A buffer that refuses to grow past [`MAX_RENDERED_BYTES`].
struct Bounded(Vec<u8>);

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + buf.len() > MAX_RENDERED_BYTES {
            return Err(std::io::Error::other(format!(
                "the rendered text is over {MAX_RENDERED_BYTES} bytes"
            )));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Checks that a template's parts compile; the error names the part.
pub fn compile_check(subject: &str, body: &str, html: Option<&str>) -> Result<(), (String, String)> {
    let mut env = environment();
    for (part, src) in [("subject", Some(subject)), ("body", Some(body)), ("html", html)] {
        if let Some(src) = src {
            env.add_template_owned(part.to_owned(), src.to_owned())
                .map_err(|e| (part.to_owned(), e.to_string()))?;
        }
    }
    Ok(())
}

impl Renderer {
    /// Compiles `templates` (the latest version of each wins); templates that do not compile
    /// are skipped with a warning (they cannot be saved through the API).
    pub fn new(templates: &[Template], fallback_locale: &str) -> Self {
        let mut env = environment();
        env.set_auto_escape_callback(|name| {
            if name.ends_with("|html") {
                minijinja::AutoEscape::Html
            } else {
                minijinja::AutoEscape::None
            }
        });
        let mut versions = std::collections::HashMap::new();
        let mut seen = HashSet::new();
        let mut sorted: Vec<&Template> = templates.iter().collect();
        sorted.sort_by_key(|t| std::cmp::Reverse(t.version));
        for t in sorted {
            let k = key(&t.notification, &t.channel, &t.locale);
            if !seen.insert(k.clone()) {
                continue;
            }
            let parts = [
                ("subject", Some(&t.subject)),
                ("body", Some(&t.body)),
                ("html", t.html.as_ref()),
            ];
            let mut ok = true;
            for (part, src) in parts {
                if let Some(src) = src
                    && let Err(e) = env.add_template_owned(format!("{k}|{part}"), src.clone())
                {
                    tracing::warn!(template = %k, part, error = %e, "template does not compile; skipped");
                    ok = false;
                }
            }
            if ok {
                versions.insert(k, t.version);
            }
        }
        Self {
            env,
            versions,
            fallback: fallback_locale.to_owned(),
        }
    }

    /// The template key that serves (notification, channel, locale): the channel's own, then
    /// `in_app`'s, each in the locale and then in the fallback locale.
    fn resolve(&self, notification: &str, channel: &str, locale: &str) -> Option<(String, String)> {
        let channels = [channel, "in_app"];
        let locales = [locale, self.fallback.as_str()];
        channels.iter().find_map(|c| {
            locales.iter().find_map(|l| {
                let k = key(notification, c, l);
                self.versions.contains_key(&k).then(|| (k, (*l).to_owned()))
            })
        })
    }

    /// Renders `notification` for `channel` in `locale` with `ctx`.
    pub fn render(
        &self,
        notification: &str,
        channel: &str,
        locale: &str,
        ctx: &Value,
    ) -> Result<Rendered, RenderError> {
        let (k, used_locale) = self
            .resolve(notification, channel, locale)
            .ok_or_else(|| RenderError::Missing {
                notification: notification.to_owned(),
                channel: channel.to_owned(),
                locale: locale.to_owned(),
            })?;
        let ctx = minijinja::Value::from_serialize(ctx);
        let part = |p: &str| -> Result<Option<String>, RenderError> {
            let name = format!("{k}|{p}");
            match self.env.get_template(&name) {
                Ok(t) => bounded(&t, &ctx).map(Some).map_err(|e| RenderError::Failed {
                    name: format!("{notification}/{channel}/{used_locale} {p}"),
                    reason: describe(&e),
                }),
                Err(_) => Ok(None),
            }
        };
        let html = if channel == "email" { part("html")? } else { None };
        Ok(Rendered {
            subject: part("subject")?.unwrap_or_default(),
            body: part("body")?.unwrap_or_default(),
            html,
            version: self.versions.get(&k).copied().unwrap_or_default(),
            locale: used_locale,
        })
    }
}

fn describe(e: &minijinja::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// What every message falls back to: the locale when the recipient's has no template, and the
/// base of the links templates build (`base_url`).
#[derive(Debug, Clone)]
pub struct RenderDefaults {
    pub default_locale: String,
    pub public_base_url: String,
}

/// The data templates render with: the event's (or send's) data plus `base_url` and
/// `event_type`, unless the data has its own.
pub fn context(data: &Value, base_url: &str, event_type: &str) -> Value {
    let mut ctx = data.clone();
    if let Value::Object(m) = &mut ctx {
        m.entry("base_url")
            .or_insert_with(|| Value::String(base_url.to_owned()));
        m.entry("event_type")
            .or_insert_with(|| Value::String(event_type.to_owned()));
    }
    ctx
}

/// Plain text as simple HTML paragraphs, escaped.
pub fn text_to_html(text: &str) -> String {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let paras: Vec<String> = escaped
        .split("\n\n")
        .map(|p| format!("<p>{}</p>", p.replace('\n', "<br>")))
        .collect();
    format!("<!doctype html><html><body>{}</body></html>", paras.join(""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(notification: &str, channel: &str, locale: &str, version: i32, subject: &str, body: &str) -> Template {
        Template {
            notification: notification.into(),
            channel: channel.into(),
            locale: locale.into(),
            version,
            subject: subject.into(),
            body: body.into(),
            html: None,
        }
    }

    #[test]
    fn a_template_that_loops_too_long_or_writes_too_much_is_stopped() {
        let busy = "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}done";
        let huge = "{% for i in range(100000) %}0123456789{% endfor %}";
        let r = Renderer::new(
            &[
                t("busy", "in_app", "en", 1, "s", busy),
                t("huge", "in_app", "en", 1, "s", huge),
                t(
                    "fine",
                    "in_app",
                    "en",
                    1,
                    "s",
                    "{% for i in range(50) %}{{ i }}{% endfor %}",
                ),
            ],
            "en",
        );
        let ctx = json!({});
        assert!(matches!(
            r.render("busy", "in_app", "en", &ctx),
            Err(RenderError::Failed { .. })
        ));
        assert!(matches!(
            r.render("huge", "in_app", "en", &ctx),
            Err(RenderError::Failed { .. })
        ));
        assert!(r.render("fine", "in_app", "en", &ctx).is_ok());
        // The same bounds apply before a template is saved.
        assert!(trial_render("s", busy, None).is_err());
        assert!(trial_render("s", huge, None).is_err());
        assert!(trial_render("s", "Hi {{ name }}", None).is_ok());
    }

    #[test]
    fn the_latest_version_renders_and_locales_fall_back() {
        let r = Renderer::new(
            &[
                t("received", "in_app", "en", 1, "old", "old"),
                t(
                    "received",
                    "in_app",
                    "en",
                    2,
                    "Ticket {{ ticket_id|ref }}",
                    "Hi {{ name }}",
                ),
                t("received", "sms", "zh-CN", 1, "", "短信 {{ name }}"),
            ],
            "en",
        );
        let ctx = json!({"ticket_id": "0190f2a1-7c3b-7def-8123-456789abcdef", "name": "Li"});
        let en = r.render("received", "email", "en", &ctx).expect("render");
        assert_eq!(
            (en.subject.as_str(), en.body.as_str(), en.version),
            ("Ticket 0190F2A1", "Hi Li", 2)
        );
        let fr = r.render("received", "in_app", "fr", &ctx).expect("fallback");
        assert_eq!(fr.locale, "en");
        let sms = r.render("received", "sms", "zh-CN", &ctx).expect("sms");
        assert_eq!(sms.body, "短信 Li");
        assert!(matches!(
            r.render("other", "in_app", "en", &ctx),
            Err(RenderError::Missing { .. })
        ));
    }

    #[test]
    fn missing_data_is_a_clear_error_but_optional_checks_pass() {
        let r = Renderer::new(
            &[t(
                "x",
                "in_app",
                "en",
                1,
                "{% if tier %}up{% endif %}",
                "{{ missing.field }}",
            )],
            "en",
        );
        let err = r.render("x", "in_app", "en", &json!({})).expect_err("undefined");
        assert!(err.to_string().contains("x/in_app/en body"), "{err}");
        assert!(compile_check("{{ a", "b", None).is_err());
        assert!(compile_check("{{ a }}", "b", Some("<p>{{ b }}</p>")).is_ok());
    }

    #[test]
    fn the_context_adds_the_base_url_and_the_event_type() {
        let r = Renderer::new(
            &[t(
                "s",
                "in_app",
                "en",
                1,
                "{{ event_type }}",
                "{{ base_url }}/s/{{ token }}",
            )],
            "en",
        );
        let data = json!({"token": "t1"});
        assert!(
            r.render("s", "in_app", "en", &data).is_err(),
            "undefined values are not printed"
        );
        let ok = r
            .render(
                "s",
                "in_app",
                "en",
                &context(&data, "https://x.example", "intake.survey.requested"),
            )
            .expect("render");
        assert_eq!(
            (ok.subject.as_str(), ok.body.as_str()),
            ("intake.survey.requested", "https://x.example/s/t1")
        );
    }

    #[test]
    fn text_becomes_escaped_html() {
        assert_eq!(
            text_to_html("a <b>\n\nc"),
            "<!doctype html><html><body><p>a &lt;b&gt;</p><p>c</p></body></html>"
        );
    }
}
