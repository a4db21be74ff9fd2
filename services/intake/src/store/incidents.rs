//! Incidents: many tickets about one fault.

use chrono::{DateTime, Utc};
use contracts::{IncidentId, TicketId};
use platform::Tx;

use crate::domain::incident::IncidentStatus;
use crate::store::StatusText;
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IncidentRow {
    pub id: IncidentId,
    pub number: i64,
    pub fault_type: String,
    pub title: String,
    pub terms: Vec<String>,
    #[sqlx(try_from = "StatusText")]
    pub status: IncidentStatus,
    pub resolution: Option<String>,
    pub opened_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_linked_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<Uuid>,
    pub ticket_count: i64,
}

const COLUMNS: &str = "i.id, i.number, i.fault_type, i.title, i.terms, i.status, i.resolution, i.opened_by, \
                       i.created_at, i.last_linked_at, i.resolved_at, i.resolved_by, \
                       (SELECT count(*) FROM ticket t WHERE t.incident_id = i.id) AS ticket_count";

/// Open tickets of `fault_type` in no incident opened in the `minutes` before `now` (the
/// service's clock): `(id, keywords)`.
pub async fn unlinked_recent(
    tx: &mut Tx,
    fault_type: &str,
    minutes: u32,
    except: TicketId,
    now: DateTime<Utc>,
) -> Result<Vec<(TicketId, Vec<String>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, keywords FROM ticket WHERE fault_type = $1 AND incident_id IS NULL \
           AND created_at > $4 - make_interval(mins => $2) AND id <> $3 \
           AND status NOT IN ('resolved', 'closed', 'cancelled') \
         ORDER BY created_at DESC LIMIT 200",
    )
    .bind(fault_type)
    .bind(i32::try_from(minutes).unwrap_or(i32::MAX))
    .bind(except)
    .bind(now)
    .fetch_all(&mut **tx)
    .await
}

/// Opens an incident at `now` (the service's clock).
pub async fn insert(
    tx: &mut Tx,
    fault_type: &str,
    title: &str,
    terms: &[String],
    opened_by: Uuid,
    now: DateTime<Utc>,
) -> Result<IncidentId, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO incident (id, fault_type, title, terms, opened_by, created_at, last_linked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
    )
    .bind(IncidentId::new())
    .bind(fault_type)
    .bind(title)
    .bind(terms)
    .bind(opened_by)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
}

/// Links the tickets to the incident at `now` (the service's clock); returns the ones newly
/// linked.
pub async fn link(
    tx: &mut Tx,
    incident: IncidentId,
    tickets: &[TicketId],
    now: DateTime<Utc>,
) -> Result<Vec<TicketId>, sqlx::Error> {
    let linked: Vec<TicketId> = sqlx::query_scalar(
        "UPDATE ticket SET incident_id = $1, updated_at = $3 \
         WHERE id = ANY($2) AND incident_id IS DISTINCT FROM $1 RETURNING id",
    )
    .bind(incident)
    .bind(tickets)
    .bind(now)
    .fetch_all(&mut **tx)
    .await?;
    // At most once a minute: under an outage every new ticket links here, and the window is
    // counted in minutes anyway.
    sqlx::query("UPDATE incident SET last_linked_at = $2 WHERE id = $1 AND last_linked_at < $2 - interval '1 minute'")
        .bind(incident)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(linked)
}

/// Unlinks a ticket at `now` (the service's clock); false when it was not in that incident.
pub async fn unlink(
    tx: &mut Tx,
    incident: IncidentId,
    ticket: TicketId,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query("UPDATE ticket SET incident_id = NULL, updated_at = $3 WHERE id = $2 AND incident_id = $1")
        .bind(incident)
        .bind(ticket)
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(n == 1)
}

pub async fn get<'e>(executor: impl sqlx::PgExecutor<'e>, id: IncidentId) -> Result<Option<IncidentRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM incident i WHERE i.id = $1"))
        .bind(id)
        .fetch_optional(executor)
        .await
}

/// Locks an open incident and marks it resolved at `now` (the service's clock); `None` if there
/// is none or it is resolved.
pub async fn resolve(
    tx: &mut Tx,
    id: IncidentId,
    resolution: &str,
    by: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<IncidentRow>, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE incident SET status = 'resolved', resolution = $2, resolved_by = $3, resolved_at = $4 \
         WHERE id = $1 AND status = 'open'",
    )
    .bind(id)
    .bind(resolution)
    .bind(by)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if done == 0 {
        return Ok(None);
    }
    get(&mut **tx, id).await
}

pub async fn list(pool: &PgPool, status: Option<IncidentStatus>, limit: i64) -> Result<Vec<IncidentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM incident i WHERE ($1::text IS NULL OR i.status = $1) \
         ORDER BY i.created_at DESC LIMIT $2"
    ))
    .bind(status.map(IncidentStatus::as_str))
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The open tickets of an incident, locked.
pub async fn open_tickets(tx: &mut Tx, id: IncidentId) -> Result<Vec<TicketId>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM ticket WHERE incident_id = $1 AND status NOT IN ('resolved', 'closed', 'cancelled') \
         ORDER BY created_at FOR UPDATE",
    )
    .bind(id)
    .fetch_all(&mut **tx)
    .await
}
