//! `/v1/rules` and `/v1/templates`: admins change and preview them; supervisors and services
//! with `notifications:config-read` read them.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use platform::auth::Principal;
use platform::error::Validator;
use platform::problems::NotFound;
use platform::{ApiError, Platform};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{State, check_name};
use crate::domain::render::{self, Renderer, Template};
use crate::domain::rules::{CHANNELS, Rule, URGENCIES};
use crate::store::{rules, templates};

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleListResponse {
    pub items: Vec<Rule>,
}

/// Every rule (admins, supervisors, services with `notifications:config-read`).
#[utoipa::path(get, path = "/v1/rules", tag = "rules",
    security(("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["service", "notifications:config-read"])),
    responses((status = 200, body = RuleListResponse)))]
pub async fn list_rules(platform: web::Data<Platform>) -> Result<web::Json<RuleListResponse>, ApiError> {
    Ok(web::Json(RuleListResponse {
        items: rules::rules(&platform.pool).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleRequest {
    pub event_type: String,
    /// JSON pointers into the event's data and the values they must equal.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub conditions: BTreeMap<String, Value>,
    /// JSON pointer to the recipient's id (`/customer_id`, `/agent_id`, `/supervisor_id`).
    pub recipient: String,
    pub notification: String,
    pub channels: Vec<String>,
    pub category: String,
    pub urgency: String,
    #[serde(default)]
    pub digest_secs: Option<i32>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// Create or replace a rule (admins). 201 when new, 200 when replaced.
#[utoipa::path(put, path = "/v1/rules/{name}", tag = "rules", params(("name" = String, Path)), request_body = RuleRequest,
    security(("bearer" = ["admin"])),
    responses((status = 200, body = Rule), (status = 201, body = Rule)))]
pub async fn put_rule(
    platform: web::Data<Platform>,
    state: web::Data<State>,
    path: web::Path<String>,
    body: web::Json<RuleRequest>,
) -> Result<HttpResponse, ApiError> {
    let name = path.into_inner();
    let b = body.into_inner();
    let mut v = Validator::new();
    check_name(&mut v, &name, "name");
    v.check(
        !b.event_type.is_empty() && b.event_type.len() <= 128 && b.event_type.contains('.'),
        "event_type",
        "an event type such as routing.ticket.queued",
    );
    v.check(
        b.recipient.starts_with('/'),
        "recipient",
        "a JSON pointer such as /customer_id",
    );
    for k in b.conditions.keys() {
        v.check(k.starts_with('/'), "conditions", format!("`{k}` is not a JSON pointer"));
    }
    check_name(&mut v, &b.notification, "notification");
    v.check(!b.channels.is_empty(), "channels", "name at least one channel");
    for c in &b.channels {
        v.one_of(c, &CHANNELS, "channels");
    }
    check_name(&mut v, &b.category, "category");
    v.one_of(&b.urgency, &URGENCIES, "urgency");
    if let Some(d) = b.digest_secs {
        v.check((1..=86_400).contains(&d), "digest_secs", "must be 1 to 86400 seconds");
    }
    v.finish()?;
    let rule = Rule {
        name,
        event_type: b.event_type,
        conditions: b.conditions,
        recipient: b.recipient,
        notification: b.notification,
        channels: b.channels,
        category: b.category,
        urgency: b.urgency,
        digest_secs: b.digest_secs,
        enabled: b.enabled,
    };
    let created = rules::upsert_rule(&platform.pool, &rule).await?;
    state.catalog.reload().await.map_err(ApiError::internal)?;
    Ok(if created {
        HttpResponse::Created().json(rule)
    } else {
        HttpResponse::Ok().json(rule)
    })
}

/// Delete a rule (admins).
#[utoipa::path(delete, path = "/v1/rules/{name}", tag = "rules", params(("name" = String, Path)),
    security(("bearer" = ["admin"])),
    responses((status = 204), NotFound))]
pub async fn delete_rule(
    platform: web::Data<Platform>,
    state: web::Data<State>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !rules::delete_rule(&platform.pool, &path.into_inner()).await? {
        return Err(ApiError::not_found("rule"));
    }
    state.catalog.reload().await.map_err(ApiError::internal)?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateListResponse {
    /// Every version, newest first per channel and locale.
    pub items: Vec<Template>,
}

/// Every version of a notification's templates (admins, supervisors, services with
/// `notifications:config-read`).
#[utoipa::path(get, path = "/v1/templates/{notification}", tag = "templates", params(("notification" = String, Path)),
    security(("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["service", "notifications:config-read"])),
    responses((status = 200, body = TemplateListResponse), NotFound))]
pub async fn list_templates(
    platform: web::Data<Platform>,
    path: web::Path<String>,
) -> Result<web::Json<TemplateListResponse>, ApiError> {
    let items = templates::templates_of(&platform.pool, &path.into_inner()).await?;
    if items.is_empty() {
        return Err(ApiError::not_found("template"));
    }
    Ok(web::Json(TemplateListResponse { items }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateRequest {
    /// Title (in-app) or subject (email); minijinja syntax.
    #[serde(default)]
    pub subject: String,
    pub body: String,
    /// Email HTML (auto-escaped); optional.
    #[serde(default)]
    pub html: Option<String>,
    /// Data to test-render the new version with; when given, a version that does not render
    /// with it is refused.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub sample: Option<Value>,
}

fn check_template(v: &mut Validator, subject: &str, body: &str, html: Option<&str>) {
    v.check(subject.chars().count() <= 500, "subject", "at most 500 characters");
    v.check(!body.trim().is_empty(), "body", "must not be blank");
    v.check(body.chars().count() <= 20_000, "body", "at most 20000 characters");
    v.check(
        html.is_none_or(|h| h.chars().count() <= 100_000),
        "html",
        "at most 100000 characters",
    );
    // Compiled and rendered once with no data within the render bounds (fuel, output size),
    // so a template that cannot finish is never saved.
    if let Err((part, e)) = render::trial_render(subject, body, html) {
        v.check(false, &part, format!("does not render: {e}"));
    }
}

/// Save a new version of a template (admins); earlier versions are kept.
#[utoipa::path(put, path = "/v1/templates/{notification}/{channel}/{locale}", tag = "templates",
    params(("notification" = String, Path), ("channel" = String, Path), ("locale" = String, Path)),
    request_body = TemplateRequest,
    security(("bearer" = ["admin"])),
    responses((status = 201, body = Template)))]
pub async fn put_template(
    caller: Principal,
    platform: web::Data<Platform>,
    state: web::Data<State>,
    path: web::Path<(String, String, String)>,
    body: web::Json<TemplateRequest>,
) -> Result<HttpResponse, ApiError> {
    let (notification, channel, locale) = path.into_inner();
    let b = body.into_inner();
    let mut v = Validator::new();
    check_name(&mut v, &notification, "notification");
    v.one_of(&channel, &CHANNELS, "channel");
    v.check(
        !locale.is_empty() && locale.len() <= 16 && locale.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
        "locale",
        "a language tag such as zh-CN or en",
    );
    check_template(&mut v, &b.subject, &b.body, b.html.as_deref());
    v.finish()?;
    let mut t = Template {
        notification,
        channel,
        locale,
        version: 0,
        subject: b.subject,
        body: b.body,
        html: b.html,
    };
    if let Some(sample) = &b.sample {
        let r = Renderer::new(std::slice::from_ref(&t), &t.locale);
        r.render(&t.notification, &t.channel, &t.locale, sample)
            .map_err(|e| ApiError::unprocessable("template_does_not_render", e.to_string()))?;
    }
    t.version = templates::add_template_version(&platform.pool, &t, caller.subject).await?;
    state.catalog.reload().await.map_err(ApiError::internal)?;
    Ok(HttpResponse::Created().json(t))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    pub notification: String,
    pub channel: String,
    pub locale: String,
    /// The event data (or direct-send data) to render with.
    #[schema(value_type = Object)]
    pub data: Value,
    /// Render this draft instead of the saved template.
    #[serde(default)]
    pub draft: Option<TemplateRequest>,
}

/// Render a saved template or a draft with some data (admins: a preview renders any data into
/// any template, drafts included, and shows the result); a template that does not render with
/// it is a 422 naming the part and the reason.
#[utoipa::path(post, path = "/v1/templates/preview", tag = "templates", request_body = PreviewRequest,
    security(("bearer" = ["admin"])),
    responses((status = 200, body = crate::domain::render::Rendered)))]
pub async fn preview(
    state: web::Data<State>,
    body: web::Json<PreviewRequest>,
) -> Result<web::Json<render::Rendered>, ApiError> {
    let b = body.into_inner();
    let mut v = Validator::new();
    v.one_of(&b.channel, &CHANNELS, "channel");
    v.check(b.data.is_object(), "data", "must be a JSON object");
    if let Some(d) = &b.draft {
        check_template(&mut v, &d.subject, &d.body, d.html.as_deref());
    }
    v.finish()?;
    let ctx = render::context(&b.data, &state.settings.public_base_url, "");
    let rendered = match b.draft {
        Some(d) => {
            let t = Template {
                notification: b.notification.clone(),
                channel: b.channel.clone(),
                locale: b.locale.clone(),
                version: 0,
                subject: d.subject,
                body: d.body,
                html: d.html,
            };
            Renderer::new(&[t], &b.locale).render(&b.notification, &b.channel, &b.locale, &ctx)
        }
        None => {
            let snapshot = state.catalog.get().await.map_err(ApiError::internal)?;
            snapshot.renderer.render(&b.notification, &b.channel, &b.locale, &ctx)
        }
    };
    rendered
        .map(web::Json)
        .map_err(|e| ApiError::unprocessable("template_does_not_render", e.to_string()))
}
