//! The supervisors' refund report over a period.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use platform::ApiError;
use platform::error::Validator;

use super::Refunds;
use crate::store::reports::{self as store, GroupBy, GroupRow};

/// The longest period one report covers.
pub const MAX_DAYS: i64 = 366;

/// One group's figures.
#[derive(Debug, Clone)]
pub struct Group {
    pub row: GroupRow,
    /// Requests per reason.
    pub by_reason: BTreeMap<String, i64>,
    /// Approved ÷ decided (approved + rejected); `None` before any decision.
    pub approved_share: Option<f64>,
}

/// What the report is grouped by, from its query value.
pub fn group_by(v: &mut Validator, by: Option<&str>) -> Option<GroupBy> {
    let parsed = match by.unwrap_or("course") {
        "course" => Some(GroupBy::Course),
        "channel" => Some(GroupBy::Channel),
        "policy" => Some(GroupBy::Policy),
        _ => None,
    };
    v.check(parsed.is_some(), "by", "must be course, channel or policy");
    parsed
}

impl Refunds {
    /// The requests filed in `[from, to)` per group (and currency).
    pub async fn report(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        by: Option<&str>,
    ) -> Result<Vec<Group>, ApiError> {
        let mut v = Validator::new();
        let by = group_by(&mut v, by);
        v.check(from < to, "to", "must be after from");
        v.check(
            to - from <= Duration::days(MAX_DAYS),
            "to",
            format!("the period must be at most {MAX_DAYS} days"),
        );
        v.finish()?;
        let by = by.ok_or_else(|| ApiError::internal(anyhow::anyhow!("validated grouping missing")))?;
        let pool = &self.platform.pool;
        let rows = store::groups(pool, from, to, by).await?;
        let mut reasons: BTreeMap<(String, String), BTreeMap<String, i64>> = BTreeMap::new();
        for (key, currency, reason, n) in store::reasons(pool, from, to, by).await? {
            reasons.entry((key, currency)).or_default().insert(reason, n);
        }
        Ok(rows
            .into_iter()
            .map(|row| {
                let decided = row.approved + row.rejected;
                #[allow(clippy::cast_precision_loss)] // counts far below 2^52
                let approved_share = (decided > 0).then(|| row.approved as f64 / decided as f64);
                let by_reason = reasons
                    .remove(&(row.key.clone(), row.currency.clone()))
                    .unwrap_or_default();
                Group {
                    row,
                    by_reason,
                    approved_share,
                }
            })
            .collect())
    }
}
