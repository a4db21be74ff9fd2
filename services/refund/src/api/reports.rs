//! `/v1/refund-reports`: refund figures for supervisors.

use std::collections::BTreeMap;

use actix_web::web;
use chrono::{DateTime, Utc};
use platform::ApiError;
use platform::problems::Unprocessable;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::core::Refunds;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// Requests filed from this moment (inclusive)…
    pub from: DateTime<Utc>,
    /// …until this one (exclusive); at most 366 days after `from`.
    pub to: DateTime<Utc>,
    /// `course` (default), `channel` (the payment channel) or `policy` (the policy version).
    pub by: Option<String>,
}

/// A median and a 90th percentile, in seconds (continuous, `percentile_cont`); null without data.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Percentiles {
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReportGroup {
    /// The course id, payment channel or policy version.
    pub key: String,
    /// Amounts in different currencies are reported apart.
    pub currency: String,
    /// Requests filed.
    pub requests: i64,
    /// Asked for, in minor units.
    pub requested_minor: i64,
    /// Requests approved (automatically or by staff), and the amount approved.
    pub approved: i64,
    pub approved_minor: i64,
    pub rejected: i64,
    pub cancelled: i64,
    /// Still waiting for a decision.
    pub open: i64,
    /// Requests per reason.
    pub by_reason: BTreeMap<String, i64>,
    /// Approved ÷ decided (approved + rejected); null before any decision.
    pub approved_share: Option<f64>,
    /// From filing to approval or rejection (0 for automatic approvals).
    pub decision_secs: Percentiles,
    /// From filing to the payout; null until payouts exist.
    pub payout_secs: Percentiles,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RefundReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub by: String,
    pub groups: Vec<ReportGroup>,
}

/// Refund requests filed in `[from, to)`, per course, payment channel or policy version (and
/// currency): volume, amounts asked for and approved, counts by reason and outcome, the share
/// approved, and the time to a decision and to the payout (supervisors, admins).
#[utoipa::path(get, path = "/v1/refund-reports", tag = "reports", params(ReportQuery),
    security(("bearer" = ["supervisor"]), ("bearer" = ["admin"])),
    responses((status = 200, body = RefundReport), Unprocessable))]
pub async fn get_refund_report(
    refunds: web::Data<Refunds>,
    query: web::Query<ReportQuery>,
) -> Result<web::Json<RefundReport>, ApiError> {
    let q = query.into_inner();
    let groups = refunds.report(q.from, q.to, q.by.as_deref()).await?;
    Ok(web::Json(RefundReport {
        from: q.from,
        to: q.to,
        by: q.by.unwrap_or_else(|| "course".to_owned()),
        groups: groups
            .into_iter()
            .map(|g| ReportGroup {
                key: g.row.key,
                currency: g.row.currency,
                requests: g.row.requests,
                requested_minor: g.row.requested_minor,
                approved: g.row.approved,
                approved_minor: g.row.approved_minor,
                rejected: g.row.rejected,
                cancelled: g.row.cancelled,
                open: g.row.open,
                by_reason: g.by_reason,
                approved_share: g.approved_share,
                decision_secs: Percentiles {
                    median: g.row.decision_median_secs,
                    p90: g.row.decision_p90_secs,
                },
                payout_secs: Percentiles {
                    median: g.row.payout_median_secs,
                    p90: g.row.payout_p90_secs,
                },
            })
            .collect(),
    }))
}
