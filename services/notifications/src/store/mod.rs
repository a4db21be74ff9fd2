#![allow(clippy::disallowed_methods)]
//! Notification tables: every SQL statement of the service, one module per aggregate.

pub mod deliveries;
pub mod dispatch;
pub mod endpoints;
pub mod inbox;
pub mod recipients;
pub mod rules;
pub mod templates;

use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{Executor, Postgres};

/// Runs `query`; whether it changed exactly one row.
async fn changed_one<'e>(
    exec: impl Executor<'e, Database = Postgres>,
    query: Query<'_, Postgres, PgArguments>,
) -> Result<bool, sqlx::Error> {
    Ok(query.execute(exec).await?.rows_affected() == 1)
}
