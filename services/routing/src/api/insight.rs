//! `/v1/live` (the supervisors' live view) and `/v1/forecast` (staffing by Erlang C).

use std::collections::BTreeMap;

use actix_web::web;
use chrono::{DateTime, Utc};
use platform::error::Validator;
use platform::problems::Unprocessable;
use platform::{ApiError, Platform};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::core::catalog;
use crate::core::router::Router;
use crate::domain::erlang::{self, Staffing};
use crate::domain::matching::{self, Relaxation, Requirement};
use crate::store::{assignments, log, sla};

#[derive(Debug, Serialize, ToSchema)]
pub struct LiveQueue {
    pub name: String,
    pub tier: String,
    pub waiting: u64,
    pub oldest_wait_secs: Option<i64>,
    /// What a ticket arriving now can expect to wait: the larger of the Erlang C average wait
    /// and the backlog ahead of it (waiting × handle time ÷ agents); absent when no agent
    /// online can take it.
    pub estimated_wait_secs: Option<i64>,
    /// Online agents who can take its tickets without relaxation.
    pub agents_online: u32,
    pub arrivals_last_hour: i64,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct TierFigures {
    pub online: u32,
    pub away: u32,
    pub offline: u32,
    /// Tickets held or offered now, and the capacity of those online.
    pub load: u32,
    pub capacity: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Compliance {
    pub met: i64,
    pub missed: i64,
    /// met ÷ (met + missed); absent before the day's first response.
    pub share: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Outlook {
    pub contacts_last_hour: i64,
    pub handle_secs: f64,
    pub agents_online: u32,
    /// Share answered within `answer_within_secs` with the agents online now.
    pub service_level: f64,
    /// Agents the last hour's contacts need to meet the target.
    pub agents_needed: u32,
    pub meets_target: bool,
    pub answer_within_secs: f64,
    pub target_share: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LiveView {
    pub queues: Vec<LiveQueue>,
    /// junior, mid, senior.
    #[schema(value_type = Object)]
    pub agents: BTreeMap<String, TierFigures>,
    /// First responses within target since midnight UTC.
    pub first_response_today: Compliance,
    pub outlook: Outlook,
    pub generated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LiveQuery {
    /// The service target's answer time, seconds (default 300).
    pub answer_within_secs: Option<f64>,
    /// The share to answer within it (default 0.9).
    pub target_share: Option<f64>,
}

/// Average handle time over the last day's finished assignments (else the configured default).
async fn handle_secs(platform: &Platform, default_secs: u64, now: DateTime<Utc>) -> Result<f64, sqlx::Error> {
    let avg = assignments::average_handle_secs(&platform.pool, now).await?;
    Ok(avg.filter(|a| *a > 1.0).unwrap_or(default_secs as f64))
}

/// Queues, agents and today's service level, live (supervisors, admins; services with
/// `routing:read`).
#[utoipa::path(get, path = "/v1/live", tag = "live", params(LiveQuery),
    security(("bearer" = ["supervisor"]), ("bearer" = ["admin"]), ("bearer" = ["service", "routing:read"])),
    responses((status = 200, body = LiveView), Unprocessable))]
pub async fn live(
    platform: web::Data<Platform>,
    router: web::Data<Router>,
    query: web::Query<LiveQuery>,
) -> Result<web::Json<LiveView>, ApiError> {
    let within = query.answer_within_secs.unwrap_or(300.0);
    let target = query.target_share.unwrap_or(0.9);
    let mut v = Validator::new();
    v.check(
        within > 0.0 && within <= 86_400.0,
        "answer_within_secs",
        "must be 0 to 86400",
    );
    v.check(target > 0.0 && target < 1.0, "target_share", "must be between 0 and 1");
    v.finish()?;
    router.catalog().fresh().await?;
    let agents = router.catalog().agents();
    let ids: Vec<_> = agents.iter().map(|a| a.id).collect();
    let now = router.now();
    let states = router.live().agents(&ids, now.timestamp_millis()).await?;
    let mut tiers: BTreeMap<String, TierFigures> = ["junior", "mid", "senior"]
        .iter()
        .map(|t| ((*t).to_owned(), TierFigures::default()))
        .collect();
    let mut online = Vec::new();
    for (a, st) in agents.iter().zip(&states) {
        let f = tiers.entry(a.tier.clone()).or_default();
        match st.presence.as_deref() {
            Some("online") => {
                f.online += 1;
                f.capacity += a.capacity.0.values().map(|c| u32::from(*c)).sum::<u32>();
                online.push(catalog::candidate(a, st.load.clone(), st.idle_since_ms));
            }
            Some(_) => f.away += 1,
            None => f.offline += 1,
        }
        f.load += st.load.values().map(|c| u32::from(*c)).sum::<u32>();
    }
    let aht = handle_secs(&platform, router.settings().default_handle_secs, now).await?;
    let arrivals = log::arrivals_last_hour(&platform.pool, now).await?;
    let stats = router.live().stats().await?;
    let queues = router
        .catalog()
        .queues()
        .into_iter()
        .map(|q| {
            let s = stats.iter().find(|s| s.name == q.name);
            let waiting = s.map_or(0, |s| s.waiting);
            let req = Requirement {
                tier: q.tier.clone(),
                skill: q.skill.clone(),
                language: None,
                channel: String::new(),
            };
            let n = u32::try_from(
                online
                    .iter()
                    .filter(|c| matching::eligible(c, &req, Relaxation::Exact))
                    .count(),
            )
            .unwrap_or(0);
            let per_hour = arrivals.iter().find(|(name, _)| *name == q.name).map_or(0, |a| a.1);
            let estimated = (n > 0).then(|| {
                let asa = erlang::staffing(n, per_hour as f64, aht, within).average_wait_secs;
                let backlog = waiting as f64 * aht / f64::from(n);
                asa.max(backlog).min(86_400.0 * 7.0) as i64
            });
            LiveQueue {
                oldest_wait_secs: s
                    .filter(|s| s.waiting > 0)
                    .and_then(|s| s.oldest_enqueued_ms)
                    .map(|ms| ((now.timestamp_millis() - ms) / 1000).max(0)),
                name: q.name,
                tier: q.tier,
                waiting,
                estimated_wait_secs: estimated,
                agents_online: n,
                arrivals_last_hour: per_hour,
            }
        })
        .collect();
    let (met, missed) = sla::first_response_today(&platform.pool, now).await?;
    let contacts: i64 = arrivals.iter().map(|a| a.1).sum();
    let agents_online = u32::try_from(online.len()).unwrap_or(0);
    let now_level = erlang::staffing(agents_online, contacts as f64, aht, within);
    let needed = erlang::agents_needed(contacts as f64, aht, within, target, 1.0, 10_000);
    Ok(web::Json(LiveView {
        queues,
        agents: tiers,
        first_response_today: Compliance {
            met,
            missed,
            share: (met + missed > 0).then(|| met as f64 / (met + missed) as f64),
        },
        outlook: Outlook {
            contacts_last_hour: contacts,
            handle_secs: aht,
            agents_online,
            service_level: now_level.service_level,
            agents_needed: needed.agents,
            meets_target: now_level.service_level >= target,
            answer_within_secs: within,
            target_share: target,
        },
        generated_at: now,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForecastInterval {
    /// When the interval starts (optional, echoed back).
    #[serde(default)]
    pub start: Option<DateTime<Utc>>,
    /// Contacts expected in the interval.
    pub contacts: f64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForecastRequest {
    pub intervals: Vec<ForecastInterval>,
    /// Interval length, minutes (default 60).
    #[serde(default)]
    pub interval_minutes: Option<u32>,
    /// Average handle time, seconds.
    pub handle_secs: f64,
    /// Answer within this many seconds (default 300) …
    #[serde(default)]
    pub answer_within_secs: Option<f64>,
    /// … for this share of contacts (default 0.9).
    #[serde(default)]
    pub target_share: Option<f64>,
    /// Most of agents' time on contacts (default 0.85).
    #[serde(default)]
    pub max_occupancy: Option<f64>,
    /// Share of paid time not available for contacts (breaks, training; default 0).
    #[serde(default)]
    pub shrinkage: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ForecastRow {
    pub start: Option<DateTime<Utc>>,
    pub contacts: f64,
    /// Offered load in Erlangs.
    pub traffic: f64,
    /// Agents on contacts needed to meet the target.
    pub agents_needed: u32,
    /// Agents to schedule, allowing for shrinkage.
    pub agents_scheduled: u32,
    pub service_level: f64,
    pub average_wait_secs: f64,
    pub occupancy: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ForecastResponse {
    pub intervals: Vec<ForecastRow>,
    pub peak_agents: u32,
}

/// Agents needed per interval for expected contacts (Erlang C; supervisors, admins).
#[utoipa::path(post, path = "/v1/forecast", tag = "live", request_body = ForecastRequest,
    security(("bearer" = ["supervisor"]), ("bearer" = ["admin"])),
    responses((status = 200, body = ForecastResponse)))]
pub async fn forecast(body: web::Json<ForecastRequest>) -> Result<web::Json<ForecastResponse>, ApiError> {
    let b = body.into_inner();
    let minutes = b.interval_minutes.unwrap_or(60);
    let within = b.answer_within_secs.unwrap_or(300.0);
    let target = b.target_share.unwrap_or(0.9);
    let occupancy = b.max_occupancy.unwrap_or(0.85);
    let shrinkage = b.shrinkage.unwrap_or(0.0);
    let mut v = Validator::new();
    v.check(
        !b.intervals.is_empty() && b.intervals.len() <= 2016,
        "intervals",
        "give 1 to 2016 intervals",
    );
    v.check((5..=1440).contains(&minutes), "interval_minutes", "must be 5 to 1440");
    v.check(
        b.handle_secs > 0.0 && b.handle_secs <= 86_400.0,
        "handle_secs",
        "must be 0 to 86400",
    );
    v.check(
        within > 0.0 && within <= 86_400.0,
        "answer_within_secs",
        "must be 0 to 86400",
    );
    v.check(target > 0.0 && target < 1.0, "target_share", "must be between 0 and 1");
    v.check(
        occupancy > 0.0 && occupancy <= 1.0,
        "max_occupancy",
        "must be above 0, at most 1",
    );
    v.check((0.0..0.9).contains(&shrinkage), "shrinkage", "must be 0 to 0.9");
    for (i, iv) in b.intervals.iter().enumerate() {
        v.check(
            iv.contacts.is_finite() && (0.0..=1_000_000.0).contains(&iv.contacts),
            &format!("intervals[{i}].contacts"),
            "must be 0 to 1000000",
        );
    }
    v.finish()?;
    let per_hour = 60.0 / f64::from(minutes);
    let intervals: Vec<ForecastRow> = b
        .intervals
        .iter()
        .map(|iv| {
            let s: Staffing = erlang::agents_needed(
                iv.contacts * per_hour,
                b.handle_secs,
                within,
                target,
                occupancy,
                100_000,
            );
            ForecastRow {
                start: iv.start,
                contacts: iv.contacts,
                traffic: s.traffic,
                agents_needed: s.agents,
                agents_scheduled: (f64::from(s.agents) / (1.0 - shrinkage)).ceil() as u32,
                service_level: s.service_level,
                average_wait_secs: if s.average_wait_secs.is_finite() {
                    s.average_wait_secs
                } else {
                    -1.0
                },
                occupancy: s.occupancy,
            }
        })
        .collect();
    let peak_agents = intervals.iter().map(|r| r.agents_scheduled).max().unwrap_or(0);
    Ok(web::Json(ForecastResponse { intervals, peak_agents }))
}
