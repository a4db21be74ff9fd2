//! Incidents handled by staff: opened by hand, tickets linked and unlinked, and resolved with
//! every open ticket linked to them. (New tickets are grouped into incidents as they open, in
//! `open.rs`.)

use contracts::{IncidentId, TicketId};
use platform::{ApiError, Platform};
use uuid::Uuid;

use crate::core::lifecycle::Lifecycle;
use crate::domain::incident::IncidentStatus;
use crate::domain::lifecycle::Action;
use crate::events;
use crate::store::incidents::IncidentRow;
use crate::store::{self, NewMessage};

/// Opens an incident about `fault_type` over `tickets` (each must exist: 404 otherwise, and
/// nothing is written); the words of its tickets become its terms.
pub async fn open_by_hand(
    platform: &Platform,
    fault_type: &str,
    title: &str,
    tickets: Vec<TicketId>,
    by: Uuid,
) -> Result<IncidentRow, ApiError> {
    let mut tx = platform.pool.begin().await?;
    let now = platform.clock.now();
    let mut terms: Vec<String> = Vec::new();
    for id in &tickets {
        let t = store::ticket_for_update(&mut tx, *id)
            .await?
            .ok_or_else(|| ApiError::not_found("ticket"))?;
        terms.extend(t.keywords);
    }
    terms.sort();
    terms.dedup();
    let id = store::incidents::insert(&mut tx, fault_type, title, &terms, by, now).await?;
    store::incidents::link(&mut tx, id, &tickets, now).await?;
    platform
        .outbox
        .stage(&mut tx, events::incident_opened(id, fault_type, title, tickets, now))
        .await?;
    let row = store::incidents::get(&mut *tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("incident"))?;
    platform.outbox.commit(tx).await?;
    Ok(row)
}

/// Links a ticket to an open incident; a resolved one is a 409.
pub async fn link(platform: &Platform, id: IncidentId, ticket: TicketId) -> Result<IncidentRow, ApiError> {
    let mut tx = platform.pool.begin().await?;
    let incident = store::incidents::get(&mut *tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("incident"))?;
    if incident.status != IncidentStatus::Open {
        return Err(ApiError::conflict(
            "incident_resolved",
            "a resolved incident takes no more tickets",
        ));
    }
    store::ticket_for_update(&mut tx, ticket)
        .await?
        .ok_or_else(|| ApiError::not_found("ticket"))?;
    store::incidents::link(&mut tx, id, &[ticket], platform.clock.now()).await?;
    let row = store::incidents::get(&mut *tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("incident"))?;
    tx.commit().await?;
    Ok(row)
}

/// Takes a ticket out of an incident; 404 when it is not in it.
pub async fn unlink(platform: &Platform, id: IncidentId, ticket: TicketId) -> Result<(), ApiError> {
    let mut tx = platform.pool.begin().await?;
    if !store::incidents::unlink(&mut tx, id, ticket, platform.clock.now()).await? {
        return Err(ApiError::not_found("ticket in this incident"));
    }
    tx.commit().await?;
    Ok(())
}

/// Resolves an open incident `by` a member of staff: every open linked ticket gets the
/// resolution as a public message and is resolved. Returns the incident and those tickets.
pub async fn resolve(
    platform: &Platform,
    lifecycle: &Lifecycle,
    id: IncidentId,
    resolution: &str,
    by: Uuid,
) -> Result<(IncidentRow, Vec<TicketId>), ApiError> {
    let mut tx = platform.pool.begin().await?;
    let now = platform.clock.now();
    let incident = match store::incidents::resolve(&mut tx, id, resolution, by, now).await? {
        Some(i) => i,
        None => {
            return Err(match store::incidents::get(&mut *tx, id).await? {
                Some(_) => ApiError::conflict("incident_resolved", "the incident is resolved already"),
                None => ApiError::not_found("incident"),
            });
        }
    };
    let mut resolved = Vec::new();
    for ticket_id in store::incidents::open_tickets(&mut tx, id).await? {
        let Some(ticket) = store::ticket_for_update(&mut tx, ticket_id).await? else {
            continue;
        };
        let added = store::insert_message(
            &mut tx,
            &NewMessage {
                ticket_id,
                author_id: by,
                author_role: "agent",
                visibility: "public",
                kind: "message",
                body: resolution,
                channel: None,
                external_id: None,
            },
            now,
        )
        .await?;
        let first_response = store::stamp_first_response(&mut tx, ticket_id, now).await?;
        platform
            .outbox
            .stage_sequenced(
                &mut tx,
                events::message_added(ticket.customer_id, &added.message, first_response),
                added.seq,
            )
            .await?;
        // The resolution events carry the row as updated (first response included).
        lifecycle.apply(&mut tx, &ticket, Action::Resolve, by).await?;
        resolved.push(ticket_id);
    }
    platform
        .outbox
        .stage(
            &mut tx,
            events::incident_resolved(&incident, resolution, resolved.clone(), by, now),
        )
        .await?;
    platform.outbox.commit(tx).await?;
    tracing::info!(incident_id = %id, tickets = resolved.len(), "incident resolved");
    Ok((incident, resolved))
}
