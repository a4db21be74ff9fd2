//! Cursor pagination (`limit`, `cursor` → `next_cursor`) over lists ordered by a timestamp
//! and the id (`(created_at, id)`, `(starts_at, id)`). Cursors are opaque to clients.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::error::ApiError;

/// Where a page starts: after the item with this timestamp and id.
pub type After = (DateTime<Utc>, Uuid);

/// Query parameters of a paginated list.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page (default 20).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The checked limit and the decoded cursor.
    pub fn resolve(&self, max: i64) -> Result<(i64, Option<After>), ApiError> {
        let limit = self.limit.unwrap_or(20.min(max));
        if !(1..=max).contains(&limit) {
            return Err(ApiError::field("limit", format!("must be 1 to {max}")));
        }
        let cursor = self.cursor.as_deref().map(decode).transpose()?;
        Ok((limit, cursor))
    }
}

/// The cursor pointing after an item.
pub fn encode(at: DateTime<Utc>, id: Uuid) -> String {
    hex::encode(format!("{}:{id}", at.timestamp_micros()))
}

pub fn decode(cursor: &str) -> Result<After, ApiError> {
    let bad = || ApiError::field("cursor", "is not a cursor this API returned");
    let text = String::from_utf8(hex::decode(cursor).map_err(|_| bad())?).map_err(|_| bad())?;
    let (micros, id) = text.split_once(':').ok_or_else(bad)?;
    let at = DateTime::from_timestamp_micros(micros.parse().map_err(|_| bad())?).ok_or_else(bad)?;
    Ok((at, Uuid::parse_str(id).map_err(|_| bad())?))
}

/// The next page's cursor: present when the page is full.
pub fn next_cursor<T>(items: &[T], limit: i64, key: impl Fn(&T) -> After) -> Option<String> {
    if i64::try_from(items.len()).unwrap_or(0) < limit {
        return None;
    }
    items.last().map(|last| {
        let (at, id) = key(last);
        encode(at, id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_a_field_error() {
        let at = DateTime::from_timestamp_micros(1_790_000_000_123_456).expect("time");
        let id = Uuid::now_v7();
        assert_eq!(decode(&encode(at, id)).expect("decode"), (at, id));
        assert_eq!(decode("zz").expect_err("bad").errors[0].field, "cursor");
        let q = PageQuery {
            limit: Some(500),
            cursor: None,
        };
        assert!(q.resolve(100).is_err());
    }
}
