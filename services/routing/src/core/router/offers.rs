//! An agent's side of a claim: accepting or declining an offer, lapsed offers and those of
//! agents who went away, and "next ticket" pulls.

use std::collections::{BTreeMap, HashSet};

use contracts::{AgentId, TicketId};
use platform::ApiError;

use super::claims::Claiming;
use super::{Refusal, Router, live_ticket, requirement};
use crate::adapters::live::{GiveBack, LiveTicket, TakeOutcome};
use crate::core::catalog;
use crate::domain::entry::EntryStatus;
use crate::domain::matching::{self, Relaxation};
use crate::events;
use crate::store::assignments::{self, Open};
use crate::store::entries::{self, Move, QueueEntryRow};

/// Candidates a pull hands to one Lua call.
const PULL_BATCH: usize = 8;

/// Lua calls one pull makes at most before it answers that nothing is waiting (each call finds
/// its candidates taken by other pulls only under extreme contention).
const PULL_ROUNDS: usize = 16;

impl Router {
    /// The agent accepts the ticket offered to them.
    pub async fn accept(&self, ticket: TicketId, agent: AgentId) -> Result<QueueEntryRow, ApiError> {
        let now = self.now();
        let mut tx = self.inner.pool.begin().await?;
        let mut m = Move::new(ticket, &[EntryStatus::Offered], EntryStatus::Assigned, "assigned", now);
        m.agent_from = Some(agent);
        m.agent = Some(agent);
        m.detail = serde_json::json!({"how": "offer"});
        let entry = entries::apply(&mut tx, &m).await?.ok_or(Refusal::NotYours)?;
        assignments::open(&mut tx, ticket, agent, &entry.channel, "offer", Open::New, now).await?;
        match self.inner.live.accept(ticket, agent).await? {
            TakeOutcome::Done => {}
            TakeOutcome::Rebuilding => return Err(Refusal::Rebuilding.into()),
            _ => return Err(Refusal::NotYours.into()),
        }
        self.inner
            .outbox
            .stage_sequenced(&mut tx, events::assigned(&entry, agent, "offer", now), entry.version)
            .await?;
        self.inner.outbox.commit(tx).await?;
        tracing::info!(ticket_id = %ticket, agent_id = %agent, "offer accepted");
        Ok(entry)
    }

    /// The agent declines their offer (or it lapsed, or they went away): the ticket keeps its
    /// place in the queue and is not offered to them again.
    pub async fn give_back_offer(
        &self,
        ticket: TicketId,
        agent: AgentId,
        kind: &str,
    ) -> Result<QueueEntryRow, ApiError> {
        let mut tx = self.inner.pool.begin().await?;
        let mut m = Move::new(ticket, &[EntryStatus::Offered], EntryStatus::Waiting, kind, self.now());
        m.agent_from = Some(agent);
        m.detail = serde_json::json!({"agent_id": agent});
        let entry = entries::apply(&mut tx, &m).await?.ok_or(Refusal::NotYours)?;
        let returned = self
            .inner
            .live
            .give_back(
                ticket,
                agent,
                &entry.channel,
                &entry.queue,
                entry.score,
                GiveBack::NotToThem,
            )
            .await?;
        if !returned {
            // Redis lost the offer: put the ticket back as Postgres has it.
            self.inner.live.enqueue(&live_ticket(&entry)).await?;
        }
        self.inner.outbox.commit(tx).await?;
        tracing::info!(ticket_id = %ticket, agent_id = %agent, kind, "offer returned to the queue");
        self.forget_agents();
        self.wake();
        Ok(entry)
    }

    /// Returns offers lapsed by the clock and those of agents who went away; how many.
    pub async fn sweep_offers(&self) -> anyhow::Result<usize> {
        let now_ms = self.now().timestamp_millis();
        let mut n = 0;
        for (ticket, agent) in self.inner.live.offers(Some(now_ms), 200).await? {
            if self.give_back_offer(ticket, agent, "offer_expired").await.is_ok() {
                n += 1;
            }
        }
        // Offers to agents missing from the copy of online agents' states (at most
        // `AGENT_STATE_TTL` old) are checked against their presence; the others wait for a
        // later sweep, so a sweep reads each suspect agent once, not every offer's agent.
        let open = self.inner.live.offers(None, 1000).await?;
        if !open.is_empty() {
            let online: HashSet<AgentId> = self.online_agents().await?.iter().map(|c| c.id).collect();
            let mut suspects: Vec<AgentId> = open.iter().map(|(_, a)| *a).filter(|a| !online.contains(a)).collect();
            suspects.sort_unstable();
            suspects.dedup();
            if !suspects.is_empty() {
                let states = self.inner.live.agents(&suspects, now_ms).await?;
                let away: HashSet<AgentId> = suspects
                    .into_iter()
                    .zip(states)
                    .filter(|(_, st)| st.presence.as_deref() != Some("online"))
                    .map(|(a, _)| a)
                    .collect();
                for (ticket, agent) in open {
                    if away.contains(&agent) && self.give_back_offer(ticket, agent, "agent_away").await.is_ok() {
                        n += 1;
                    }
                }
            }
        }
        Ok(n)
    }

    /// "Give me my next ticket": the best waiting ticket this agent may take, theirs at once.
    ///
    /// Candidates come from the replica's copy of the queues' heads ([`PullView`]); the Lua take
    /// checks presence and capacity as it takes, so the common case is one Redis call and a
    /// share of one Postgres statement. The agent's live state is read only when the take says
    /// they are full or nothing was found, to answer why.
    pub async fn pull(&self, agent: AgentId) -> Result<Option<QueueEntryRow>, ApiError> {
        self.inner.catalog.fresh().await?;
        let row = self
            .inner
            .catalog
            .agent(agent)
            .ok_or_else(|| ApiError::not_found("active agent"))?;
        let me = catalog::candidate(&row, BTreeMap::new(), 0);
        let relax = &self.inner.relax;
        let view = &self.inner.pull_view;
        // Channels to look at: all the agent works on, then (once the take says they are full
        // on some) those with free capacity.
        let mut channels: Vec<String> = me
            .capacity
            .iter()
            .filter(|(_, c)| **c > 0)
            .map(|(ch, _)| ch.clone())
            .collect();
        // A pull that finds nothing in the copy looks at a read begun after `since`.
        let mut since = std::time::Instant::now();
        let mut fresh = false;
        for _ in 0..PULL_ROUNDS {
            let now_ms = self.now().timestamp_millis();
            let wanted = |t: &LiveTicket| {
                let waited = u64::try_from((now_ms - t.enqueued_ms) / 1000).unwrap_or(0);
                channels.contains(&t.channel)
                    && matching::eligible(&me, &requirement(t), Relaxation::after(waited, relax))
            };
            let mut reserved = if fresh {
                view.reserve_since(&self.inner.live, since, PULL_BATCH, wanted).await?
            } else {
                view.reserve(&self.inner.live, PULL_BATCH, wanted).await?
            };
            if reserved.tickets.is_empty() {
                if fresh {
                    break;
                }
                // Nothing for this agent in the copy: look at the queues themselves.
                fresh = true;
                continue;
            }
            let (outcome, i) = self.inner.live.take_first(&reserved.tickets, agent, now_ms).await?;
            match outcome {
                TakeOutcome::Done => {
                    let taken = reserved.tickets[i].clone();
                    reserved.tickets.drain(..=i);
                    view.put_back(reserved);
                    let now = self.now();
                    if let (TakeOutcome::Done, entry) =
                        self.record_claim(&taken, agent, Claiming::Pull, now, now).await?
                    {
                        return Ok(entry);
                    }
                    // Postgres refused that one (finished meanwhile): go on, and look at a
                    // newer read if it comes to that.
                    (fresh, since) = (false, std::time::Instant::now());
                }
                // Every candidate went to someone else.
                TakeOutcome::Gone => (fresh, since) = (false, std::time::Instant::now()),
                TakeOutcome::Rebuilding => {
                    view.put_back(reserved);
                    return Err(Refusal::Rebuilding.into());
                }
                TakeOutcome::NotOnline => {
                    view.put_back(reserved);
                    return Err(Refusal::NotOnline.into());
                }
                TakeOutcome::Full => {
                    view.put_back(reserved);
                    let free = self.free_channels(&me).await?;
                    if free.is_empty() || free == channels {
                        return Err(Refusal::AtCapacity.into());
                    }
                    channels = free;
                }
            }
        }
        // Nothing to take: say why when it is the agent's own state.
        if self.free_channels(&me).await?.is_empty() {
            return Err(Refusal::AtCapacity.into());
        }
        Ok(None)
    }

    /// The channels on which `me` has free capacity now (their live load read from Redis);
    /// `agent_not_online` when they are not online.
    async fn free_channels(&self, me: &matching::Candidate) -> Result<Vec<String>, ApiError> {
        let now_ms = self.now().timestamp_millis();
        let state = self
            .inner
            .live
            .agents(&[me.id], now_ms)
            .await?
            .pop()
            .unwrap_or_default();
        if state.presence.as_deref() != Some("online") {
            return Err(Refusal::NotOnline.into());
        }
        let me = matching::Candidate {
            load: state.load,
            ..me.clone()
        };
        Ok(me.capacity.keys().filter(|ch| me.free_on(ch) > 0).cloned().collect())
    }
}
