//! Assignments: who held a ticket from when to when (the capacity it took, handle times).

use chrono::{DateTime, Utc};
use contracts::{AgentId, TicketId};
use platform::Tx;
use sqlx::PgPool;

/// Whether opening an assignment first closes the one the ticket has open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    /// The ticket has none open (a first assignment).
    New,
    /// Closes any open one first (a transfer, an assignment made elsewhere).
    Replacing,
}

/// Opens an assignment at `at` (capacity taken until released), closing an open one first as
/// `open` says.
pub async fn open(
    tx: &mut Tx,
    ticket: TicketId,
    agent: AgentId,
    channel: &str,
    how: &str,
    open: Open,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    // Two statements: within one, the insert would still see the row being released.
    if open == Open::Replacing {
        release(tx, ticket, at).await?;
    }
    sqlx::query("INSERT INTO assignment (ticket_id, agent_id, channel, how, assigned_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(ticket)
        .bind(agent)
        .bind(channel)
        .bind(how)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Closes the ticket's open assignment, if any, at `at`.
pub async fn release(tx: &mut Tx, ticket: TicketId, at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE assignment SET released_at = $2 WHERE ticket_id = $1 AND released_at IS NULL")
        .bind(ticket)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Average handle time over the day before `now`'s finished assignments, seconds (`None`:
/// none).
pub async fn average_handle_secs(pool: &PgPool, now: DateTime<Utc>) -> Result<Option<f64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT avg(extract(epoch FROM released_at - assigned_at))::float8 FROM assignment \
         WHERE released_at > $1::timestamptz - interval '1 day' AND released_at <= $1",
    )
    .bind(now)
    .fetch_one(pool)
    .await
}
