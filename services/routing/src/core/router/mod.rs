//! Assignment: tickets enter live queues, are offered to the best agent (push) or taken by an
//! agent asking for their next (pull), accepted, declined, transferred, escalated and released.
//!
//! Every change follows one pattern: in a Postgres transaction, move the queue entry (the row
//! lock makes replicas take turns on a ticket) and log it; run the atomic Lua step in Redis
//! (which refuses a ticket already taken or an agent at capacity); stage the event; commit. A
//! failed Lua step rolls the transaction back; a failed commit after a Lua step is undone in
//! Redis, and anything left over is corrected by the rebuild from Postgres.
//!
//! - [`admit`]: tickets entering, waiting again and leaving, as intake reports them;
//! - [`dispatch`]: the dispatcher's passes that offer (or give) waiting tickets to agents;
//! - [`claims`]: writing what the Lua step granted, and undoing it when Postgres refuses;
//! - [`offers`]: an agent accepting, declining or pulling their next ticket;
//! - [`moves`]: transfers, escalations and SLA raises;
//! - [`clocks`]: what a service-level warning or breach does;
//! - [`rebuild`]: the live state rebuilt from Postgres.

mod admit;
mod claims;
mod clocks;
mod dispatch;
mod moves;
mod offers;
mod rebuild;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use platform::bus::outbox::Outbox;
use platform::{Clock, Platform};
use sqlx::PgPool;
use tokio::sync::Notify;

use crate::adapters::live::{LiveQueues, LiveTicket};
use crate::core::catalog::Catalog;
use crate::core::pull_view::PullView;
use crate::core::sla::Sla;
use crate::domain::matching::{self, RelaxAfter};
use crate::domain::queue::{Boosts, Standing};
use crate::settings::RoutingSettings;
use crate::store::entries::QueueEntryRow;

pub use dispatch::{Dispatcher, Pass};
pub use moves::Actor;
pub use rebuild::Rebuild;

struct Inner {
    pool: PgPool,
    /// Every rule that depends on time reads it: offers' expiry, waits and relaxation, clocks,
    /// idle time, presence.
    clock: Clock,
    outbox: Outbox,
    live: LiveQueues,
    catalog: Catalog,
    sla: Sla,
    settings: RoutingSettings,
    /// From `settings`, built once.
    boosts: Boosts,
    relax: RelaxAfter,
    wake: Notify,
    agent_states: std::sync::Mutex<Option<(std::time::Instant, Arc<Vec<matching::Candidate>>)>>,
    /// Per queue, how far back the dispatcher also reads when the head of the queue holds a
    /// full window of tickets no free agent can take (see [`Router::dispatch`]).
    further: std::sync::Mutex<HashMap<String, isize>>,
    claims: claims::ClaimWriter,
    pull_view: PullView,
}

/// Waiting tickets per queue a replica's copy for pulls holds.
const PULL_HEADS: isize = 256;

/// Cheap to clone.
#[derive(Clone)]
pub struct Router {
    inner: Arc<Inner>,
}

/// Why the live state refused an agent's step; `api` maps each to its problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The live state is being rebuilt from Postgres: try again in a moment.
    Rebuilding,
    /// The agent is not online.
    NotOnline,
    /// The agent holds as many tickets as their capacity allows.
    AtCapacity,
    /// The ticket is not offered to this agent (the offer lapsed or went to someone else).
    NotYours,
}

/// The live form of a waiting entry.
pub fn live_ticket(e: &QueueEntryRow) -> LiveTicket {
    LiveTicket {
        ticket_id: e.ticket_id,
        customer_id: Some(e.customer_id),
        queue: e.queue.clone(),
        score: e.score,
        channel: e.channel.clone(),
        tier: e.tier.clone(),
        skill: e.skill.clone(),
        language: e.language.clone(),
        enqueued_ms: e.enqueued_at.timestamp_millis(),
        tried: Vec::new(),
    }
}

fn requirement(t: &LiveTicket) -> matching::Requirement {
    matching::Requirement {
        tier: t.tier.clone(),
        skill: t.skill.clone(),
        language: t.language.clone(),
        channel: t.channel.clone(),
    }
}

fn standing(e: &QueueEntryRow, near_breach: bool) -> Standing {
    Standing {
        vip: e.segments.iter().any(|s| s == "vip"),
        high_emotion: e.high_emotion,
        near_breach,
    }
}

impl Router {
    /// The router on the platform's database, outbox, Redis and jobs.
    pub fn new(platform: &Platform, settings: RoutingSettings) -> Self {
        let (pool, outbox) = (platform.pool.clone(), platform.outbox.clone());
        Self {
            inner: Arc::new(Inner {
                claims: claims::claim_writer(pool.clone(), outbox.clone()),
                live: LiveQueues::new(platform.redis.clone()),
                catalog: Catalog::new(pool.clone(), Duration::from_millis(settings.catalog_refresh_ms)),
                sla: Sla::new(platform.jobs.clone(), settings.sla_warn_ratio),
                pool,
                outbox,
                clock: platform.clock.clone(),
                boosts: settings.boosts(),
                relax: settings.relax_after(),
                wake: Notify::new(),
                agent_states: std::sync::Mutex::new(None),
                further: std::sync::Mutex::new(HashMap::new()),
                pull_view: PullView::new(
                    Duration::from_millis(settings.pull_view_ms),
                    PULL_HEADS.max(settings.heads_per_queue as isize),
                ),
                settings,
            }),
        }
    }

    pub fn live(&self) -> &LiveQueues {
        &self.inner.live
    }

    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    pub fn settings(&self) -> &RoutingSettings {
        &self.inner.settings
    }

    /// The service's clock.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Now, by the service's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// Routing's database, for the other use cases.
    pub(in crate::core) fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// Asks the dispatcher for a pass now (a ticket arrived, an agent came online or freed up).
    pub fn wake(&self) {
        self.inner.pull_view.mark_stale();
        self.inner.wake.notify_one();
    }

    /// Drops the dispatcher's copy of agents' states (something changed that it does not show).
    pub fn forget_agents(&self) {
        if let Ok(mut guard) = self.inner.agent_states.lock() {
            *guard = None;
        }
    }

    fn offer_timeout(&self) -> chrono::Duration {
        chrono::Duration::seconds(i64::try_from(self.inner.settings.offer_timeout_secs).unwrap_or(20))
    }
}
