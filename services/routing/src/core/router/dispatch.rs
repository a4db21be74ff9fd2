//! The dispatcher: passes over the queues' heads that offer waiting tickets to the best free
//! agents (or give them, in auto-accept queues), every replica's, when woken and on a timer.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use contracts::AgentId;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use platform::Task;
use tokio_util::sync::CancellationToken;

use super::claims::{CLAIMS_PER_WRITE, ClaimResult, Claiming};
use super::{Rebuild, Router, requirement};
use crate::adapters::live::{LiveTicket, TakeOutcome};
use crate::core::catalog;
use crate::domain::matching::{self, Relaxation};

/// Claims of a dispatcher pass handed to the claim writer at once: as many as it puts in one
/// statement, so a pass costs one Lua call and a Postgres write per this many claims.
const OFFERS_IN_FLIGHT: usize = CLAIMS_PER_WRITE;

/// How long the dispatcher trusts its copy of agents' presence and load.
pub(super) const AGENT_STATE_TTL: Duration = Duration::from_millis(500);

/// What a dispatcher pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Offers made and tickets assigned.
    pub made: usize,
    /// Planned claims the Lua step refused: the ticket was gone or the agent full or away
    /// (another replica, or a change since the plan).
    pub lost: usize,
}

impl Router {
    /// Offers waiting tickets to the best free agents (assigns those of auto-accept queues): one
    /// pass over the queues' heads.
    pub async fn dispatch(&self) -> anyhow::Result<Pass> {
        let s = &self.inner.settings;
        let t0 = std::time::Instant::now();
        self.inner.catalog.fresh().await?;
        let t_catalog = t0.elapsed();
        let candidates = self.online_agents().await?;
        let t_agents = t0.elapsed();
        if !candidates.iter().any(|c| c.capacity.keys().any(|ch| c.free_on(ch) > 0)) {
            return Ok(Pass::default());
        }
        // Queues no longer defined still drain by offers.
        let defined = self.inner.catalog.queue_names();
        let push = self.inner.catalog.push_queues();
        let queues: Vec<String> = self
            .inner
            .live
            .queue_names()
            .await?
            .into_iter()
            .filter(|q| push.contains(q) || !defined.contains(q))
            .collect();
        // Each queue from its head and, when its head is blocked (a full window of tickets no
        // agent with room can take, e.g. a higher tier than anyone online), also a window
        // further back, so the tickets behind are not held up.
        let per = s.heads_per_queue as isize;
        let further = self.inner.further.lock().map(|f| f.clone()).unwrap_or_default();
        let mut windows: Vec<(String, isize)> = Vec::with_capacity(queues.len());
        for q in &queues {
            windows.push((q.clone(), 0));
            if let Some(&at) = further.get(q) {
                windows.push((q.clone(), at));
            }
        }
        let mut heads = self.inner.live.heads_at(&windows, per).await?;
        let t_heads = t0.elapsed();
        let mut seen = HashSet::new();
        heads.retain(|t| seen.insert(t.ticket_id));
        let mut read: HashMap<String, isize> = HashMap::new();
        for t in &heads {
            *read.entry(t.queue.clone()).or_default() += 1;
        }
        heads.sort_by(|a, b| a.score.total_cmp(&b.score));
        let now_ms = self.now().timestamp_millis();
        let relax = &self.inner.relax;
        // Plan one claim per ticket, best ticket first, each choice counted in its agent's load;
        // an auto-accept queue's tickets are given, the others offered.
        let auto = self.inner.catalog.auto_accept_queues();
        let mut chooser = matching::Chooser::new(&candidates);
        let mut plan: Vec<(LiveTicket, AgentId, Claiming)> = Vec::new();
        for t in heads {
            let waited = u64::try_from((now_ms - t.enqueued_ms) / 1000).unwrap_or(0);
            let level = Relaxation::after(waited, relax);
            let Some(agent) = chooser.choose(&requirement(&t), level, &t.tried) else {
                continue;
            };
            let how = if auto.contains(&t.queue) {
                Claiming::Auto
            } else {
                Claiming::Offer
            };
            plan.push((t, agent, how));
        }
        self.look_further(&queues, &further, &read, &plan, per);
        // The copy is updated in place below when this pass no longer holds it.
        drop(chooser);
        drop(candidates);
        // The Lua step for the whole plan in one call, then the Postgres writes of those
        // granted, together.
        let now = self.now();
        let expires = now + self.offer_timeout();
        let claims: Vec<(&LiveTicket, AgentId, Option<i64>)> = plan
            .iter()
            .map(|(t, agent, how)| {
                (
                    t,
                    *agent,
                    (*how == Claiming::Offer).then_some(expires.timestamp_millis()),
                )
            })
            .collect();
        let outcomes = self.inner.live.take_many(&claims, now.timestamp_millis()).await?;
        let mut pass = Pass::default();
        let mut granted = Vec::new();
        for ((t, agent, how), outcome) in plan.into_iter().zip(outcomes) {
            match outcome {
                TakeOutcome::Done => granted.push((t, agent, how)),
                TakeOutcome::Gone => pass.lost += 1,
                TakeOutcome::Rebuilding => {}
                // Another replica filled them, or they left: a fresh look next pass.
                TakeOutcome::Full | TakeOutcome::NotOnline => {
                    pass.lost += 1;
                    self.forget_agents();
                }
            }
        }
        let results: Vec<(AgentId, String, ClaimResult)> = futures_util::stream::iter(granted)
            .map(|(t, agent, how)| async move {
                let result = self.record_claim(&t, agent, how, now, expires).await;
                (agent, t.channel, result)
            })
            .buffer_unordered(OFFERS_IN_FLIGHT)
            .collect()
            .await;
        let mut made = Vec::new();
        for (agent, channel, result) in results {
            match result {
                Ok((TakeOutcome::Done, _)) => made.push((agent, channel)),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %format!("{e:#}"), agent_id = %agent, "claim not written"),
            }
        }
        pass.made = made.len();
        self.note_loads(&made);
        if t0.elapsed() > Duration::from_millis(50) {
            tracing::debug!(catalog = ?t_catalog, agents = ?t_agents, heads = ?t_heads, total = ?t0.elapsed(), made = pass.made, lost = pass.lost, "slow dispatch pass");
        }
        Ok(pass)
    }

    /// Online agents with their load, from a copy at most `AGENT_STATE_TTL` old: matching reads
    /// it on every pass, and the Lua step re-checks presence and capacity anyway, so a stale
    /// copy costs at most a refused attempt.
    pub(super) async fn online_agents(&self) -> anyhow::Result<Arc<Vec<matching::Candidate>>> {
        if let Ok(guard) = self.inner.agent_states.lock()
            && let Some((at, cached)) = guard.as_ref()
            && at.elapsed() < AGENT_STATE_TTL
        {
            return Ok(cached.clone());
        }
        // The states of listed online agents only: profiles of agents who are away or offline
        // cost nothing here, however many there are.
        let now_ms = self.now().timestamp_millis();
        let mut agents = self.inner.catalog.agents();
        if let Some(online) = self.inner.live.online_ids(now_ms).await? {
            let online: HashSet<AgentId> = online.into_iter().collect();
            agents.retain(|a| online.contains(&a.id));
        }
        let ids: Vec<AgentId> = agents.iter().map(|a| a.id).collect();
        let states = self.inner.live.agents(&ids, now_ms).await?;
        let online: Arc<Vec<matching::Candidate>> = Arc::new(
            agents
                .iter()
                .zip(states)
                .filter(|(_, st)| st.presence.as_deref() == Some("online"))
                .map(|(a, st)| catalog::candidate(a, st.load, st.idle_since_ms))
                .collect(),
        );
        if let Ok(mut guard) = self.inner.agent_states.lock() {
            *guard = Some((std::time::Instant::now(), online.clone()));
        }
        Ok(online)
    }

    /// Moves each queue's second window after a pass: a queue whose windows held tickets but
    /// none this pass could give (with agents having room, or the pass would have ended
    /// earlier) is read a window further back next time, from the first window again once the
    /// end is reached; a queue that fits in its first window is read from its head only.
    fn look_further(
        &self,
        queues: &[String],
        further: &HashMap<String, isize>,
        read: &HashMap<String, isize>,
        plan: &[(LiveTicket, AgentId, Claiming)],
        per: isize,
    ) {
        let Ok(mut next) = self.inner.further.lock() else {
            return;
        };
        for q in queues {
            let got = read.get(q).copied().unwrap_or(0);
            let at = further.get(q).copied();
            let windows = if at.is_some() { 2 } else { 1 };
            if got < per {
                // The whole queue was in view.
                next.remove(q);
            } else if !plan.iter().any(|(t, _, _)| &t.queue == q) {
                let end_reached = got < per * windows;
                let to = match at {
                    Some(at) if !end_reached => at + per,
                    _ => per,
                };
                next.insert(q.clone(), to);
            }
        }
    }

    /// Counts tickets just offered or given to agents in the copy of their states.
    fn note_loads(&self, made: &[(AgentId, String)]) {
        if made.is_empty() {
            return;
        }
        if let Ok(mut guard) = self.inner.agent_states.lock()
            && let Some((_, cached)) = guard.as_mut()
        {
            let mut added: HashMap<AgentId, Vec<&str>> = HashMap::new();
            for (agent, channel) in made {
                added.entry(*agent).or_default().push(channel);
            }
            for c in Arc::make_mut(cached).iter_mut() {
                for channel in added.get(&c.id).into_iter().flatten() {
                    *c.load.entry((*channel).to_owned()).or_default() += 1;
                }
            }
        }
    }
}

/// Every replica's dispatcher: rebuilds a lost live state, returns lapsed offers and offers
/// waiting tickets, when woken and at least every `dispatch_interval_ms`.
pub struct Dispatcher {
    pub router: Router,
}

impl Task for Dispatcher {
    fn run(self: Arc<Self>, cancel: CancellationToken) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let r = self.router.clone();
            let interval = Duration::from_millis(r.inner.settings.dispatch_interval_ms.max(10));
            let mut last_sweep = std::time::Instant::now();
            loop {
                let pass = async {
                    if !r.inner.live.is_built().await? {
                        r.rebuild(Rebuild::IfLost).await?;
                    }
                    if last_sweep.elapsed() >= Duration::from_millis(500) {
                        last_sweep = std::time::Instant::now();
                        r.sweep_offers().await?;
                    }
                    // Keep going while passes make offers (more may be possible) or lose races to
                    // another replica (the heads they planned for are gone: look again).
                    let mut lost_only = 0;
                    loop {
                        let pass = r.dispatch().await?;
                        lost_only = if pass.made > 0 { 0 } else { lost_only + 1 };
                        if pass.made == 0 && (pass.lost == 0 || lost_only > 3) {
                            break;
                        }
                    }
                    anyhow::Ok(())
                };
                if let Err(e) = pass.await {
                    tracing::warn!(error = %format!("{e:#}"), "dispatch pass failed; will retry");
                }
                tokio::select! {
                    _ = r.inner.wake.notified() => {}
                    _ = tokio::time::sleep(interval) => {}
                    _ = cancel.cancelled() => return,
                }
            }
        })
    }
}
