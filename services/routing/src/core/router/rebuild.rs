//! The live state rebuilt from Postgres, the truth, after Redis lost it or when an admin asks.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use contracts::{AgentId, TicketId};
use uuid::Uuid;

use super::{Router, live_ticket};
use crate::adapters::live::{BULK, LiveTicket};
use crate::domain::entry::EntryStatus;
use crate::store::entries::{self, QueueEntryRow};

/// How long a rebuild waits, holding the lock, for claims already past their Lua step.
const REBUILD_GRACE: Duration = Duration::from_millis(300);

/// When a rebuild runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rebuild {
    /// Only when the live state is not built (Redis lost it, or this is the first start).
    IfLost,
    /// Whatever the live state holds (an admin asked).
    Force,
}

impl Router {
    /// Rebuilds the live state from Postgres (Redis was flushed or lost, or an admin asked).
    /// One replica at a time; while it runs, offers, takes and accepts are refused (the Lua
    /// steps see the lock), and claims already in flight get a moment to commit first.
    pub async fn rebuild(&self, when: Rebuild) -> anyhow::Result<Option<usize>> {
        let owner = Uuid::new_v4().to_string();
        if !self.inner.live.lock_rebuild(&owner, 60_000).await? {
            return Ok(None);
        }
        let live = &self.inner.live;
        if when == Rebuild::IfLost && live.is_built().await? {
            // Another replica finished a rebuild just before this one took the lock.
            live.finish_rebuild(&[]).await?;
            return Ok(Some(0));
        }
        tokio::time::sleep(REBUILD_GRACE).await;
        // Real time, as `queue_entry.updated_at` is written: the window below covers transactions
        // racing the rebuild, not a rule of the service's (possibly manual) clock.
        let started = Utc::now();
        live.wipe().await?;
        self.inner.catalog.refresh().await?;
        let agents = self.inner.catalog.agents();
        let capacities: Vec<(AgentId, &BTreeMap<String, u16>)> = agents.iter().map(|a| (a.id, &a.capacity.0)).collect();
        live.set_capacities(&capacities).await?;
        let live_entries = entries::live_entries(&self.inner.pool).await?;
        let tried: std::collections::HashMap<TicketId, Vec<AgentId>> =
            entries::tried_agents(&self.inner.pool).await?.into_iter().collect();
        let mut queues: Vec<String> = self.inner.catalog.queue_names();
        let mut loads: std::collections::HashMap<(AgentId, String), u32> = std::collections::HashMap::new();
        let mut waiting = Vec::new();
        let mut held = Vec::new();
        for e in &live_entries {
            match (e.status, e.agent_id) {
                (EntryStatus::Waiting, _) => {
                    let mut t = live_ticket(e);
                    t.tried = tried.get(&e.ticket_id).cloned().unwrap_or_default();
                    waiting.push(t);
                    // Written as it goes, so a long queue is not copied whole.
                    if waiting.len() >= BULK {
                        live.enqueue_many(&waiting).await?;
                        waiting.clear();
                    }
                }
                (EntryStatus::Offered | EntryStatus::Assigned, Some(agent)) => {
                    let expires = (e.status == EntryStatus::Offered)
                        .then(|| e.offer_expires_at.map_or(0, |t| t.timestamp_millis()));
                    held.push((e.ticket_id, agent, expires));
                    *loads.entry((agent, e.channel.clone())).or_default() += 1;
                }
                _ => {}
            }
            if !queues.contains(&e.queue) {
                queues.push(e.queue.clone());
            }
        }
        live.enqueue_many(&waiting).await?;
        live.restore_holdings(&held).await?;
        let loads: Vec<(AgentId, String, u32)> = loads.into_iter().map(|((a, ch), n)| (a, ch, n)).collect();
        live.set_loads(&loads).await?;
        live.finish_rebuild(&queues).await?;
        tracing::info!(entries = live_entries.len(), "live state rebuilt from Postgres");
        // A ticket queued while the rebuild read Postgres may have reached Redis before the
        // wipe and Postgres after the read: queue again what started waiting since (ZADD NX,
        // so tickets already there keep their place).
        tokio::time::sleep(REBUILD_GRACE).await;
        let late: Vec<QueueEntryRow> =
            entries::waiting_since(&self.inner.pool, started - chrono::Duration::seconds(2)).await?;
        let late: Vec<LiveTicket> = late.iter().map(live_ticket).collect();
        live.enqueue_many(&late).await?;
        self.forget_agents();
        self.wake();
        Ok(Some(live_entries.len()))
    }
}
