//! The supervisors' report: requests filed in a period, grouped by course, payment channel or
//! policy version (and currency: amounts in different currencies are never added).

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// What the requests are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Course,
    Channel,
    Policy,
}

impl GroupBy {
    /// The key's expression over `refund_request r JOIN enrolment e`.
    fn key(self) -> &'static str {
        match self {
            Self::Course => "e.course_id",
            Self::Channel => "e.channel",
            Self::Policy => "r.policy_version::text",
        }
    }
}

/// The figures of one group.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GroupRow {
    pub key: String,
    pub currency: String,
    pub requests: i64,
    pub requested_minor: i64,
    pub approved: i64,
    pub approved_minor: i64,
    pub rejected: i64,
    pub cancelled: i64,
    pub open: i64,
    pub decision_median_secs: Option<f64>,
    pub decision_p90_secs: Option<f64>,
    pub payout_median_secs: Option<f64>,
    pub payout_p90_secs: Option<f64>,
}

/// The requests filed in `[from, to)`, per group. A request counts as approved once it has an
/// approved amount (whatever happened after); its decision time runs from filing to the
/// approval or rejection, its payout time from filing to the payout.
pub async fn groups(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    by: GroupBy,
) -> Result<Vec<GroupRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {key} AS key, r.currency, count(*) AS requests, \
                sum(r.amount_minor)::bigint AS requested_minor, \
                count(*) FILTER (WHERE r.approved_minor IS NOT NULL) AS approved, \
                coalesce(sum(r.approved_minor), 0)::bigint AS approved_minor, \
                count(*) FILTER (WHERE r.status = 'rejected') AS rejected, \
                count(*) FILTER (WHERE r.status = 'cancelled') AS cancelled, \
                count(*) FILTER (WHERE r.status IN ('requested', 'under_review')) AS open, \
                percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.decided_at - r.created_at)::float8) \
                    FILTER (WHERE r.decided_at IS NOT NULL) AS decision_median_secs, \
                percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM r.decided_at - r.created_at)::float8) \
                    FILTER (WHERE r.decided_at IS NOT NULL) AS decision_p90_secs, \
                percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.paid_at - r.created_at)::float8) \
                    FILTER (WHERE r.paid_at IS NOT NULL) AS payout_median_secs, \
                percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM r.paid_at - r.created_at)::float8) \
                    FILTER (WHERE r.paid_at IS NOT NULL) AS payout_p90_secs \
         FROM refund_request r JOIN enrolment e ON e.id = r.enrolment_id \
         WHERE r.created_at >= $1 AND r.created_at < $2 \
         GROUP BY 1, 2 ORDER BY 1, 2",
        key = by.key()
    ))
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
}

/// Requests per group, currency and reason.
pub async fn reasons(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    by: GroupBy,
) -> Result<Vec<(String, String, String, i64)>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {key}, r.currency, r.reason, count(*) \
         FROM refund_request r JOIN enrolment e ON e.id = r.enrolment_id \
         WHERE r.created_at >= $1 AND r.created_at < $2 \
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        key = by.key()
    ))
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
}
