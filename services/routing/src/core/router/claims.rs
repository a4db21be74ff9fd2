//! Writing what the Lua step granted: the claims of concurrent pulls and offers in one
//! statement, and the Lua step undone when Postgres refuses or fails.

use chrono::{DateTime, Utc};
use contracts::{AgentId, TicketId};
use platform::batch::{Batcher, one_by_one_on_failure};
use platform::bus::outbox::Outbox;
use sqlx::PgPool;

use super::Router;
use crate::adapters::live::{GiveBack, LiveTicket, TakeOutcome};
use crate::domain::entry::EntryStatus;
use crate::events;
use crate::store::entries::{self, Claim, QueueEntryRow};

/// Writes the claims of concurrent pulls and offers together (see [`claim_writer`]).
pub(super) type ClaimWriter = Batcher<Claim, Option<QueueEntryRow>, anyhow::Error>;

/// Claims per statement.
pub(super) const CLAIMS_PER_WRITE: usize = 64;

/// Starts the writer for claims Redis granted: those of concurrent pulls and offers in one
/// statement and one commit; one by one when a statement fails, so each gets its own answer.
pub(super) fn claim_writer(pool: PgPool, outbox: Outbox) -> ClaimWriter {
    Batcher::spawn(CLAIMS_PER_WRITE, 1, move |items: Vec<Claim>| {
        let (pool, outbox) = (pool.clone(), outbox.clone());
        async move {
            let results = one_by_one_on_failure(&items, |batch| {
                let pool = &pool;
                async move {
                    let mut by_ticket: std::collections::HashMap<TicketId, QueueEntryRow> =
                        entries::claims(pool, batch)
                            .await?
                            .into_iter()
                            .map(|r| (r.ticket_id, r))
                            .collect();
                    anyhow::Ok(batch.iter().map(|c| by_ticket.remove(&c.ticket)).collect())
                }
            })
            .await;
            outbox.wake();
            results
        }
    })
}

pub(super) type ClaimResult = anyhow::Result<(TakeOutcome, Option<QueueEntryRow>)>;

/// How a waiting ticket is claimed for an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Claiming {
    /// Offered by the dispatcher; the agent accepts or declines.
    Offer,
    /// Taken by the agent ("next").
    Pull,
    /// Given by the dispatcher straight to the agent (an `auto_accept` queue).
    Auto,
}

impl Claiming {
    fn as_str(self) -> &'static str {
        match self {
            Claiming::Offer => "offer",
            Claiming::Pull => "pull",
            Claiming::Auto => "auto",
        }
    }
}

impl Router {
    /// Writes a claim Redis granted: the entry, its log row, the assignment and the event in one
    /// statement shared with concurrent claims; a Postgres refusal or failure undoes the Lua step.
    pub(super) async fn record_claim(
        &self,
        t: &LiveTicket,
        agent: AgentId,
        how: Claiming,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> anyhow::Result<(TakeOutcome, Option<QueueEntryRow>)> {
        let offer = how == Claiming::Offer;
        let written = async {
            let customer_id = match t.customer_id {
                Some(c) => c,
                None => entries::entry(&self.inner.pool, t.ticket_id)
                    .await?
                    .map(|e| e.customer_id)
                    .unwrap_or_default(),
            };
            // Numbered in the claims statement with the entry's new version.
            let event = if offer {
                self.inner
                    .outbox
                    .prepare(events::offered(t, customer_id, agent, expires, now))?
            } else {
                self.inner
                    .outbox
                    .prepare(events::assigned_waiting(t, customer_id, agent, how.as_str(), now))?
            };
            let how = how.as_str();
            let waited = (now.timestamp_millis() - t.enqueued_ms) / 1000;
            let detail = serde_json::json!({"how": how, "waited_secs": waited});
            self.inner
                .claims
                .submit(Claim {
                    ticket: t.ticket_id,
                    agent,
                    offer_expires_at: offer.then_some(expires),
                    how,
                    detail,
                    event,
                    at: now,
                })
                .await
        }
        .await;
        match written {
            Ok(Some(entry)) => {
                tracing::info!(ticket_id = %t.ticket_id, agent_id = %agent, how = how.as_str(), "ticket {}", if offer { "offered" } else { "assigned" });
                Ok((TakeOutcome::Done, Some(entry)))
            }
            Ok(None) => {
                self.undo_take(t, agent).await?;
                Ok((TakeOutcome::Gone, None))
            }
            Err(e) => {
                self.inner
                    .live
                    .give_back(t.ticket_id, agent, &t.channel, &t.queue, t.score, GiveBack::Undo)
                    .await?;
                Err(e)
            }
        }
    }

    /// Postgres refused a claim Redis allowed: the ticket is finished with (taken out of the live
    /// state), or Postgres does not know it yet (its transaction has not committed: it goes back
    /// to its place).
    async fn undo_take(&self, t: &LiveTicket, agent: AgentId) -> anyhow::Result<()> {
        match entries::entry(&self.inner.pool, t.ticket_id).await? {
            Some(e) if e.status != EntryStatus::Waiting => {
                self.inner
                    .live
                    .release(t.ticket_id, &t.queue, &t.channel, self.now().timestamp_millis())
                    .await?;
            }
            _ => {
                self.inner
                    .live
                    .give_back(t.ticket_id, agent, &t.channel, &t.queue, t.score, GiveBack::Undo)
                    .await?;
            }
        }
        Ok(())
    }
}
