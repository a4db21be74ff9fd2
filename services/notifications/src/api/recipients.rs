//! `/v1/recipients/{id}`: addresses, language, time zone, quiet hours and opt-outs. A person
//! manages their own (anyone else's is a 404); admins manage anyone's, and services (the CRM)
//! read anyone's with `recipients:read` and set them with `recipients:write`.

use actix_web::web;
use chrono::{DateTime, NaiveTime, Utc};
use platform::auth::Principal;
use platform::error::Validator;
use platform::problems::NotFound;
use platform::{ApiError, Platform};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{acts_on_all, is_name, scopes};
use crate::domain::LOCALES;
use crate::domain::rules::CHANNELS;
use crate::store::recipients::{self as store, RecipientRow};

/// The caller's own preferences, or anyone's for an admin or a service holding `scope`; another
/// person's are a 404 (whether they exist is not told).
fn may_manage(caller: &Principal, id: Uuid, scope: &str) -> Result<(), ApiError> {
    if caller.subject == id || acts_on_all(caller, scope) {
        Ok(())
    } else {
        Err(ApiError::not_found("recipient"))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecipientRequest {
    pub email: Option<String>,
    /// E.164 (`+8613800138000`).
    pub phone: Option<String>,
    /// `zh-CN` or `en`; messages fall back to the service's default.
    pub locale: Option<String>,
    /// IANA time zone; default `Asia/Shanghai`.
    pub time_zone: Option<String>,
    /// `HH:MM` local; non-urgent email and SMS wait until `quiet_end`.
    pub quiet_start: Option<String>,
    pub quiet_end: Option<String>,
    /// `{category}:{channel}` or `{category}:*` (`progress:email`); transactional and urgent
    /// messages are sent regardless.
    #[serde(default)]
    pub opt_outs: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecipientResponse {
    pub id: Uuid,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub locale: Option<String>,
    pub time_zone: String,
    pub quiet_start: Option<String>,
    pub quiet_end: Option<String>,
    pub opt_outs: Vec<String>,
    pub updated_at: DateTime<Utc>,
}

fn response(r: RecipientRow) -> RecipientResponse {
    RecipientResponse {
        id: r.id,
        email: r.email,
        phone: r.phone,
        locale: r.locale,
        time_zone: r.time_zone,
        quiet_start: r.quiet_start.map(|t| t.format("%H:%M").to_string()),
        quiet_end: r.quiet_end.map(|t| t.format("%H:%M").to_string()),
        opt_outs: r.opt_outs,
        updated_at: r.updated_at,
    }
}

/// A recipient's preferences: their own, or anyone's for admins and services with
/// `recipients:read`.
#[utoipa::path(get, path = "/v1/recipients/{recipient_id}", tag = "recipients", params(("recipient_id" = Uuid, Path)),
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]),
        ("bearer" = ["staff"]), ("bearer" = ["service", "recipients:read"])),
    responses((status = 200, body = RecipientResponse), NotFound))]
pub async fn get_recipient(
    caller: Principal,
    platform: web::Data<Platform>,
    path: web::Path<Uuid>,
) -> Result<web::Json<RecipientResponse>, ApiError> {
    let id = path.into_inner();
    may_manage(&caller, id, scopes::RECIPIENTS_READ)?;
    store::recipients(&platform.pool, &[id])
        .await?
        .into_iter()
        .next()
        .map(|r| web::Json(response(r)))
        .ok_or_else(|| ApiError::not_found("recipient"))
}

fn parse_time(v: &mut Validator, s: Option<&str>, field: &str) -> Option<NaiveTime> {
    let s = s?;
    let t = NaiveTime::parse_from_str(s, "%H:%M").ok();
    v.check(t.is_some(), field, "must be HH:MM");
    t
}

/// Set a recipient's preferences (the whole record): their own, or anyone's for admins and
/// services with `recipients:write`.
#[utoipa::path(put, path = "/v1/recipients/{recipient_id}", tag = "recipients", params(("recipient_id" = Uuid, Path)),
    request_body = RecipientRequest,
    security(("bearer" = ["customer"]), ("bearer" = ["agent"]), ("bearer" = ["supervisor"]), ("bearer" = ["admin"]),
        ("bearer" = ["staff"]), ("bearer" = ["service", "recipients:write"])),
    responses((status = 200, body = RecipientResponse), NotFound))]
pub async fn put_recipient(
    caller: Principal,
    platform: web::Data<Platform>,
    path: web::Path<Uuid>,
    body: web::Json<RecipientRequest>,
) -> Result<web::Json<RecipientResponse>, ApiError> {
    let id = path.into_inner();
    may_manage(&caller, id, scopes::RECIPIENTS_WRITE)?;
    let b = body.into_inner();
    let mut v = Validator::new();
    if let Some(e) = &b.email {
        v.email(e, "email");
        v.check(e.len() <= 254, "email", "at most 254 characters");
    }
    if let Some(p) = &b.phone {
        v.check(
            p.starts_with('+') && (8..=16).contains(&p.len()) && p[1..].chars().all(|c| c.is_ascii_digit()),
            "phone",
            "must be E.164, such as +8613800138000",
        );
    }
    if let Some(l) = &b.locale {
        v.one_of(l, &LOCALES, "locale");
    }
    let tz = b.time_zone.clone().unwrap_or_else(|| "Asia/Shanghai".to_owned());
    v.time_zone(&tz, "time_zone");
    let start = parse_time(&mut v, b.quiet_start.as_deref(), "quiet_start");
    let end = parse_time(&mut v, b.quiet_end.as_deref(), "quiet_end");
    v.check(
        b.quiet_start.is_some() == b.quiet_end.is_some(),
        "quiet_end",
        "quiet hours need both a start and an end",
    );
    v.check(b.opt_outs.len() <= 50, "opt_outs", "at most 50");
    for o in &b.opt_outs {
        let ok = o
            .split_once(':')
            .is_some_and(|(cat, ch)| is_name(cat) && (ch == "*" || CHANNELS.contains(&ch)));
        v.check(
            ok,
            "opt_outs",
            format!("`{o}` is not category:channel (channel in_app, email, sms or *)"),
        );
    }
    v.finish()?;
    let row = store::upsert_recipient(
        &platform.pool,
        &RecipientRow {
            id,
            email: b.email,
            phone: b.phone,
            locale: b.locale,
            time_zone: tz,
            quiet_start: start,
            quiet_end: end,
            opt_outs: b.opt_outs,
            updated_at: platform.clock.now(),
        },
    )
    .await?;
    Ok(web::Json(response(row)))
}
