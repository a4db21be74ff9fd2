//! Assignment: tickets enter live queues, are offered to the best agent (push) or taken by an
//! agent asking for their next (pull), accepted, declined, transferred, escalated and released.
//!
//! Every change follows one pattern: in a Postgres transaction, move the queue entry (the row
//! lock makes replicas take turns on a ticket) and log it; run the atomic Lua step in Redis
//! (which refuses a ticket already taken or an agent at capacity); stage the event; commit. A
//! failed Lua step rolls the transaction back; a failed commit after a Lua step is undone in
//! Redis, and anything left over is corrected by the rebuild from Postgres.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use contracts::intake::TicketCreatedV1;
use contracts::routing::{TicketAssignedV1, TicketEscalatedV1, TicketOfferedV1, TicketQueuedV1, TicketTransferredV1};
use contracts::vocabulary::{Channel, Priority};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use platform::bus::outbox::Outbox;
use platform::{ApiError, Task, Tx};
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::RoutingSettings;
use crate::catalog::{self, Catalog, TicketFacts};
use crate::domain::matching::{self, Relaxation, tier_rank, tier_up};
use crate::domain::queue::{self, Standing};
use crate::live::{LiveQueues, LiveTicket, TakeOutcome};
use crate::pull_view::PullView;
use crate::sla::Sla;
use crate::store::{self, Move, QueueEntryRow};
use platform::batch::{Batcher, one_by_one_on_failure};

struct Inner {
    pool: PgPool,
    outbox: Outbox,
    live: LiveQueues,
    catalog: Catalog,
    sla: Sla,
    settings: RoutingSettings,
    wake: Notify,
    agent_states: std::sync::Mutex<Option<(std::time::Instant, Arc<Vec<matching::Candidate>>)>>,
    /// Per queue, how far back the dispatcher also reads when the head of the queue holds a
    /// full window of tickets no free agent can take (see [`Router::dispatch`]).
    further: std::sync::Mutex<HashMap<String, isize>>,
    claims: ClaimWriter,
    pull_view: PullView,
}

/// Writes the claims of concurrent pulls and offers together (see [`claim_writer`]).
type ClaimWriter = Batcher<store::Claim, Option<QueueEntryRow>, anyhow::Error>;

/// Claims per statement.
const CLAIMS_PER_WRITE: usize = 64;

/// Starts the writer for claims Redis granted: those of concurrent pulls and offers in one
/// statement and one commit; one by one when a statement fails, so each gets its own answer.
fn claim_writer(pool: PgPool, outbox: Outbox) -> ClaimWriter {
    Batcher::spawn(CLAIMS_PER_WRITE, 1, move |items: Vec<store::Claim>| {
        let (pool, outbox) = (pool.clone(), outbox.clone());
        async move {
            let results = one_by_one_on_failure(&items, |batch| {
                let pool = &pool;
                async move {
                    let mut by_ticket: std::collections::HashMap<Uuid, QueueEntryRow> = store::claims(pool, batch)
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

type ClaimResult = anyhow::Result<(TakeOutcome, Option<QueueEntryRow>)>;

/// How long a rebuild waits, holding the lock, for claims already past their Lua step.
const REBUILD_GRACE: Duration = Duration::from_millis(300);

/// Candidates a pull hands to one Lua call.
const PULL_BATCH: usize = 8;

/// Waiting tickets per queue a replica's copy for pulls holds.
const PULL_HEADS: isize = 256;

/// Lua calls one pull makes at most before it answers that nothing is waiting (each call finds
/// its candidates taken by other pulls only under extreme contention).
const PULL_ROUNDS: usize = 16;

/// Claims of a dispatcher pass handed to the claim writer at once: as many as it puts in one
/// statement, so a pass costs one Lua call and a Postgres write per this many claims.
const OFFERS_IN_FLIGHT: usize = CLAIMS_PER_WRITE;

/// How long the dispatcher trusts its copy of agents' presence and load.
const AGENT_STATE_TTL: Duration = Duration::from_millis(500);

/// Cheap to clone.
#[derive(Clone)]
pub struct Router {
    inner: Arc<Inner>,
}

/// What a dispatcher pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Offers made and tickets assigned.
    pub made: usize,
    /// Planned claims the Lua step refused: the ticket was gone or the agent full or away
    /// (another replica, or a change since the plan).
    pub lost: usize,
}

/// How a waiting ticket is claimed for an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claiming {
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

fn channel(s: &str) -> Channel {
    Channel::parse(s).unwrap_or(Channel::Api)
}

fn priority(s: &str) -> Priority {
    Priority::parse(s).unwrap_or(Priority::Normal)
}

/// `routing.ticket.queued` for an entry that now waits.
fn queued_event(entry: &QueueEntryRow) -> TicketQueuedV1 {
    TicketQueuedV1 {
        ticket_id: entry.ticket_id,
        customer_id: entry.customer_id,
        queue: entry.queue.clone(),
        channel: channel(&entry.channel),
        priority: priority(&entry.priority),
        queued_at: entry.enqueued_at,
    }
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

fn rebuilding() -> ApiError {
    ApiError::unavailable("the live state is being rebuilt from the database; try again in a moment")
}

fn not_online() -> ApiError {
    ApiError::conflict("agent_not_online", "set your presence to online to take tickets")
}

fn at_capacity() -> ApiError {
    ApiError::conflict("at_capacity", "you hold as many tickets as your capacity allows")
}

fn not_yours() -> ApiError {
    ApiError::conflict(
        "offer_not_open",
        "this ticket is not offered to you (it expired or went to someone else)",
    )
}

impl Router {
    pub fn new(
        pool: PgPool,
        outbox: Outbox,
        live: LiveQueues,
        catalog: Catalog,
        sla: Sla,
        settings: RoutingSettings,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                claims: claim_writer(pool.clone(), outbox.clone()),
                pool,
                outbox,
                live,
                catalog,
                sla,
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

    pub fn sla(&self) -> &Sla {
        &self.inner.sla
    }

    pub fn settings(&self) -> &RoutingSettings {
        &self.inner.settings
    }

    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// Asks the dispatcher for a pass now (a ticket arrived, an agent came online or freed up).
    pub fn wake(&self) {
        self.inner.pull_view.mark_stale();
        self.inner.wake.notify_one();
    }

    fn offer_timeout(&self) -> chrono::Duration {
        chrono::Duration::seconds(i64::try_from(self.inner.settings.offer_timeout_secs).unwrap_or(20))
    }

    /// A new ticket from intake: recorded, its clocks started, put in its live queue (or held
    /// when the knowledge base answered it).
    pub async fn admit(&self, tx: &mut Tx, created: &TicketCreatedV1) -> anyhow::Result<()> {
        let s = &self.inner.settings;
        self.inner.catalog.fresh().await?;
        let (queue, req) = self.inner.catalog.place(
            &TicketFacts {
                category: created.category.as_deref(),
                channel: created.channel.as_str(),
                high_emotion: created.details.high_emotion,
                fault_type: created.details.fault_type.as_deref(),
                language: created.language.as_deref(),
            },
            &s.default_queue,
            &s.senior_queue,
        );
        let held = created.details.status.as_deref() == Some("auto_answered");
        let now = Utc::now();
        let mut entry = QueueEntryRow {
            ticket_id: created.ticket_id,
            customer_id: created.customer_id,
            queue,
            channel: created.channel.as_str().to_owned(),
            priority: created.priority.as_str().to_owned(),
            category: created.category.clone(),
            status: if held { "held" } else { "waiting" }.to_owned(),
            score: 0.0,
            enqueued_at: now,
            high_emotion: created.details.high_emotion,
            tier: req.tier,
            skill: req.skill,
            language: req.language,
            segments: created.details.customer_segments.clone(),
            agent_id: None,
            offer_expires_at: None,
            escalations: 0,
        };
        entry.score = queue::score(now, created.priority, standing(&entry, false), s);
        let event = (!held)
            .then(|| self.inner.outbox.prepare(queued_event(&entry)))
            .transpose()?;
        let Some(entry) = store::insert_entry(tx, &entry, event.as_ref()).await? else {
            return Ok(());
        };
        if held {
            tracing::info!(ticket_id = %entry.ticket_id, "ticket held: answered from the knowledge base");
            return Ok(());
        }
        self.waits(tx, &entry, now).await
    }

    /// An entry that now waits: event, clocks, live queue.
    async fn queued(&self, tx: &mut Tx, entry: &QueueEntryRow, now: DateTime<Utc>) -> anyhow::Result<()> {
        self.inner.outbox.stage(tx, queued_event(entry)).await?;
        self.waits(tx, entry, now).await
    }

    /// An entry whose event is staged starts waiting: clocks, live queue.
    async fn waits(&self, tx: &mut Tx, entry: &QueueEntryRow, now: DateTime<Utc>) -> anyhow::Result<()> {
        self.inner
            .sla
            .apply(tx, entry, &self.inner.catalog.policies(), now)
            .await?;
        // Idempotent (ZADD NX): a redelivery adds nothing; a rebuild corrects any leftover.
        self.inner.live.enqueue(&live_ticket(entry)).await?;
        tracing::info!(ticket_id = %entry.ticket_id, queue = %entry.queue, tier = %entry.tier, "ticket queued");
        Ok(())
    }

    /// A held or finished ticket waits again (not solved by its automatic answer, reopened).
    pub async fn requeue(&self, tx: &mut Tx, ticket: Uuid) -> anyhow::Result<()> {
        let now = Utc::now();
        let Some(before) = store::entry_for_update(tx, ticket).await? else {
            tracing::warn!(ticket_id = %ticket, "re-queued ticket routing never saw; ignored");
            return Ok(());
        };
        if matches!(before.status.as_str(), "waiting" | "offered") {
            return Ok(());
        }
        if let Some(agent) = before.agent_id {
            self.inner
                .live
                .release(ticket, &before.queue, &before.channel, now.timestamp_millis())
                .await?;
            store::release_assignment(tx, ticket).await?;
            tracing::info!(ticket_id = %ticket, agent_id = %agent, "ticket back to the queue; agent freed");
        }
        let score = queue::score(
            now,
            priority(&before.priority),
            standing(&before, false),
            &self.inner.settings,
        );
        let mut m = Move::new(ticket, &["held", "assigned", "closed"], "waiting", "queued");
        m.score = Some(score);
        m.enqueued_at = Some(now);
        let Some(entry) = store::apply(tx, &m).await? else {
            return Ok(());
        };
        self.inner.catalog.fresh().await?;
        self.queued(tx, &entry, now).await
    }

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
        let now_ms = Utc::now().timestamp_millis();
        let relax = s.relax_after();
        // Plan one claim per ticket, best ticket first, each choice counted in its agent's load;
        // an auto-accept queue's tickets are given, the others offered.
        let auto = self.inner.catalog.auto_accept_queues();
        let mut chooser = matching::Chooser::new(&candidates);
        let mut plan: Vec<(LiveTicket, Uuid, Claiming)> = Vec::new();
        for t in heads {
            let waited = u64::try_from((now_ms - t.enqueued_ms) / 1000).unwrap_or(0);
            let level = Relaxation::after(waited, &relax);
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
        let now = Utc::now();
        let expires = now + self.offer_timeout();
        let claims: Vec<(&LiveTicket, Uuid, Option<i64>)> = plan
            .iter()
            .map(|(t, agent, how)| {
                (
                    t,
                    *agent,
                    (*how == Claiming::Offer).then_some(expires.timestamp_millis()),
                )
            })
            .collect();
        let outcomes = self.inner.live.take_many(&claims).await?;
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
        let results: Vec<(Uuid, String, ClaimResult)> = futures_util::stream::iter(granted)
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
    async fn online_agents(&self) -> anyhow::Result<Arc<Vec<matching::Candidate>>> {
        if let Ok(guard) = self.inner.agent_states.lock()
            && let Some((at, cached)) = guard.as_ref()
            && at.elapsed() < AGENT_STATE_TTL
        {
            return Ok(cached.clone());
        }
        // The states of listed online agents only: profiles of agents who are away or offline
        // cost nothing here, however many there are.
        let mut agents = self.inner.catalog.agents();
        if let Some(online) = self.inner.live.online_ids().await? {
            let online: HashSet<Uuid> = online.into_iter().collect();
            agents.retain(|a| online.contains(&a.id));
        }
        let ids: Vec<Uuid> = agents.iter().map(|a| a.id).collect();
        let states = self.inner.live.agents(&ids).await?;
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
        plan: &[(LiveTicket, Uuid, Claiming)],
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
    fn note_loads(&self, made: &[(Uuid, String)]) {
        if made.is_empty() {
            return;
        }
        if let Ok(mut guard) = self.inner.agent_states.lock()
            && let Some((_, cached)) = guard.as_mut()
        {
            let mut added: HashMap<Uuid, Vec<&str>> = HashMap::new();
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

    /// Drops the copy of agents' states (something changed that it does not show).
    pub fn forget_agents(&self) {
        if let Ok(mut guard) = self.inner.agent_states.lock() {
            *guard = None;
        }
    }

    /// Writes a claim Redis granted: the entry, its log row, the assignment and the event in one
    /// statement shared with concurrent claims; a Postgres refusal or failure undoes the Lua step.
    async fn record_claim(
        &self,
        t: &LiveTicket,
        agent: Uuid,
        how: Claiming,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> anyhow::Result<(TakeOutcome, Option<QueueEntryRow>)> {
        let offer = how == Claiming::Offer;
        let written = async {
            let customer_id = match t.customer_id {
                Some(c) => c,
                None => store::entry(&self.inner.pool, t.ticket_id)
                    .await?
                    .map(|e| e.customer_id)
                    .unwrap_or_default(),
            };
            let event = if offer {
                self.inner.outbox.prepare(TicketOfferedV1 {
                    ticket_id: t.ticket_id,
                    customer_id,
                    agent_id: agent,
                    queue: t.queue.clone(),
                    channel: channel(&t.channel),
                    expires_at: expires,
                    offered_at: now,
                })?
            } else {
                self.inner.outbox.prepare(TicketAssignedV1 {
                    ticket_id: t.ticket_id,
                    customer_id,
                    agent_id: agent,
                    queue: t.queue.clone(),
                    channel: channel(&t.channel),
                    tier: t.tier.clone(),
                    how: how.as_str().to_owned(),
                    assigned_at: now,
                })?
            };
            let how = how.as_str();
            let waited = (now.timestamp_millis() - t.enqueued_ms) / 1000;
            let detail = serde_json::json!({"how": how, "waited_secs": waited});
            self.inner
                .claims
                .submit(store::Claim {
                    ticket: t.ticket_id,
                    agent,
                    offer_expires_at: offer.then_some(expires),
                    how,
                    detail,
                    event,
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
                    .give_back(t.ticket_id, agent, &t.channel, &t.queue, t.score, false)
                    .await?;
                Err(e)
            }
        }
    }

    /// Postgres refused a claim Redis allowed: the ticket is finished with (taken out of the live
    /// state), or Postgres does not know it yet (its transaction has not committed: it goes back
    /// to its place).
    async fn undo_take(&self, t: &LiveTicket, agent: Uuid) -> anyhow::Result<()> {
        match store::entry(&self.inner.pool, t.ticket_id).await? {
            Some(e) if e.status != "waiting" => {
                self.inner
                    .live
                    .release(t.ticket_id, &t.queue, &t.channel, Utc::now().timestamp_millis())
                    .await?;
            }
            _ => {
                self.inner
                    .live
                    .give_back(t.ticket_id, agent, &t.channel, &t.queue, t.score, false)
                    .await?;
            }
        }
        Ok(())
    }

    async fn stage_assigned(
        &self,
        tx: &mut Tx,
        e: &QueueEntryRow,
        agent: Uuid,
        how: &str,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        self.inner
            .outbox
            .stage(
                tx,
                TicketAssignedV1 {
                    ticket_id: e.ticket_id,
                    customer_id: e.customer_id,
                    agent_id: agent,
                    queue: e.queue.clone(),
                    channel: channel(&e.channel),
                    tier: e.tier.clone(),
                    how: how.to_owned(),
                    assigned_at: now,
                },
            )
            .await
            .map(|_| ())
    }

    /// The agent accepts the ticket offered to them.
    pub async fn accept(&self, ticket: Uuid, agent: Uuid) -> Result<QueueEntryRow, ApiError> {
        let now = Utc::now();
        let mut tx = self.inner.pool.begin().await?;
        let mut m = Move::new(ticket, &["offered"], "assigned", "assigned");
        m.agent_from = Some(agent);
        m.agent = Some(agent);
        m.detail = serde_json::json!({"how": "offer"});
        let entry = store::apply(&mut tx, &m).await?.ok_or_else(not_yours)?;
        store::open_assignment(&mut tx, ticket, agent, &entry.channel, "offer", false).await?;
        match self.inner.live.accept(ticket, agent).await? {
            TakeOutcome::Done => {}
            TakeOutcome::Rebuilding => return Err(rebuilding()),
            _ => return Err(not_yours()),
        }
        self.stage_assigned(&mut tx, &entry, agent, "offer", now).await?;
        self.inner.outbox.commit(tx).await?;
        tracing::info!(ticket_id = %ticket, agent_id = %agent, "offer accepted");
        Ok(entry)
    }

    /// The agent declines their offer (or it lapsed, or they went away): the ticket keeps its
    /// place in the queue and is not offered to them again.
    pub async fn give_back_offer(&self, ticket: Uuid, agent: Uuid, kind: &str) -> Result<QueueEntryRow, ApiError> {
        let mut tx = self.inner.pool.begin().await?;
        let mut m = Move::new(ticket, &["offered"], "waiting", kind);
        m.agent_from = Some(agent);
        m.detail = serde_json::json!({"agent_id": agent});
        let entry = store::apply(&mut tx, &m).await?.ok_or_else(not_yours)?;
        let returned = self
            .inner
            .live
            .give_back(ticket, agent, &entry.channel, &entry.queue, entry.score, true)
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

    /// Returns lapsed offers and those of agents who went away; how many.
    pub async fn sweep_offers(&self) -> anyhow::Result<usize> {
        let now_ms = Utc::now().timestamp_millis();
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
            let online: HashSet<Uuid> = self.online_agents().await?.iter().map(|c| c.id).collect();
            let mut suspects: Vec<Uuid> = open.iter().map(|(_, a)| *a).filter(|a| !online.contains(a)).collect();
            suspects.sort_unstable();
            suspects.dedup();
            if !suspects.is_empty() {
                let states = self.inner.live.agents(&suspects).await?;
                let away: HashSet<Uuid> = suspects
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
    pub async fn pull(&self, agent: Uuid) -> Result<Option<QueueEntryRow>, ApiError> {
        self.inner.catalog.fresh().await?;
        let row = self
            .inner
            .catalog
            .agent(agent)
            .ok_or_else(|| ApiError::not_found("active agent"))?;
        let me = catalog::candidate(&row, BTreeMap::new(), 0);
        let relax = self.inner.settings.relax_after();
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
            let now_ms = Utc::now().timestamp_millis();
            let wanted = |t: &LiveTicket| {
                let waited = u64::try_from((now_ms - t.enqueued_ms) / 1000).unwrap_or(0);
                channels.contains(&t.channel)
                    && matching::eligible(&me, &requirement(t), Relaxation::after(waited, &relax))
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
            let (outcome, i) = self.inner.live.take_first(&reserved.tickets, agent).await?;
            match outcome {
                TakeOutcome::Done => {
                    let taken = reserved.tickets[i].clone();
                    reserved.tickets.drain(..=i);
                    view.put_back(reserved);
                    let now = Utc::now();
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
                    return Err(rebuilding());
                }
                TakeOutcome::NotOnline => {
                    view.put_back(reserved);
                    return Err(not_online());
                }
                TakeOutcome::Full => {
                    view.put_back(reserved);
                    let free = self.free_channels(&me).await?;
                    if free.is_empty() || free == channels {
                        return Err(at_capacity());
                    }
                    channels = free;
                }
            }
        }
        // Nothing to take: say why when it is the agent's own state.
        if self.free_channels(&me).await?.is_empty() {
            return Err(at_capacity());
        }
        Ok(None)
    }

    /// The channels on which `me` has free capacity now (their live load read from Redis);
    /// `agent_not_online` when they are not online.
    async fn free_channels(&self, me: &matching::Candidate) -> Result<Vec<String>, ApiError> {
        let state = self.inner.live.agents(&[me.id]).await?.pop().unwrap_or_default();
        if state.presence.as_deref() != Some("online") {
            return Err(not_online());
        }
        let me = matching::Candidate {
            load: state.load,
            ..me.clone()
        };
        Ok(me.capacity.keys().filter(|ch| me.free_on(ch) > 0).cloned().collect())
    }

    /// A ticket is finished with (resolved, closed, cancelled): out of the queues, its agent freed.
    pub async fn release(&self, tx: &mut Tx, ticket: Uuid, kind: &str) -> anyhow::Result<()> {
        let Some(before) = store::entry_for_update(tx, ticket).await? else {
            return Ok(());
        };
        if before.status == "closed" {
            return Ok(());
        }
        let now = Utc::now();
        let m = Move {
            detail: serde_json::json!({"agent_id": before.agent_id}),
            ..Move::new(ticket, &["held", "waiting", "offered", "assigned"], "closed", kind)
        };
        store::apply(tx, &m).await?;
        store::release_assignment(tx, ticket).await?;
        self.inner.sla.stop_all(tx, ticket, kind, now).await?;
        self.inner
            .live
            .release(ticket, &before.queue, &before.channel, now.timestamp_millis())
            .await?;
        self.forget_agents();
        self.wake();
        Ok(())
    }

    /// Intake says an agent has the ticket: recorded when routing did not give it to them
    /// (a supervisor assigned it, or an agent started it), whatever their capacity.
    pub async fn assigned_elsewhere(&self, tx: &mut Tx, ticket: Uuid, agent: Option<Uuid>) -> anyhow::Result<()> {
        let Some(before) = store::entry_for_update(tx, ticket).await? else {
            return Ok(());
        };
        if before.status == "closed" || (before.status == "assigned" && (agent.is_none() || before.agent_id == agent)) {
            return Ok(());
        }
        let now = Utc::now();
        match agent {
            Some(agent) => {
                self.inner
                    .live
                    .assign_to(ticket, &before.queue, &before.channel, agent, false, None)
                    .await?;
                let mut m = Move::new(
                    ticket,
                    &["held", "waiting", "offered", "assigned"],
                    "assigned",
                    "assigned",
                );
                m.agent = Some(agent);
                m.detail = serde_json::json!({"how": "manual", "from_agent_id": before.agent_id});
                store::apply(tx, &m).await?;
                store::open_assignment(tx, ticket, agent, &before.channel, "manual", true).await?;
            }
            None => {
                self.inner
                    .live
                    .release(ticket, &before.queue, &before.channel, now.timestamp_millis())
                    .await?;
                store::apply(
                    tx,
                    &Move::new(ticket, &["held", "waiting", "offered"], "assigned", "assigned"),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Moves a ticket to another agent (who must be online with room) or back to a queue.
    pub async fn transfer(
        &self,
        ticket: Uuid,
        actor: Uuid,
        actor_is_supervisor: bool,
        to_agent: Option<Uuid>,
        to_queue: Option<&str>,
        reason: Option<String>,
    ) -> Result<QueueEntryRow, ApiError> {
        let now = Utc::now();
        let mut tx = self.inner.pool.begin().await?;
        let before = store::entry_for_update(&mut tx, ticket)
            .await?
            .ok_or_else(|| ApiError::not_found("queue entry"))?;
        if !actor_is_supervisor && before.agent_id != Some(actor) {
            return Err(ApiError::forbidden(
                "only the agent who has the ticket or a supervisor may transfer it",
            ));
        }
        if !matches!(before.status.as_str(), "waiting" | "offered" | "assigned") {
            return Err(ApiError::conflict(
                "not_transferable",
                format!("the ticket is {}", before.status),
            ));
        }
        let detail = serde_json::json!({"from_agent_id": before.agent_id, "reason": reason, "actor_id": actor});
        let entry = if let Some(to) = to_agent {
            self.inner.catalog.fresh().await?;
            if self.inner.catalog.agent(to).is_none() {
                return Err(ApiError::field("agent_id", "no active agent with this id"));
            }
            let mut m = Move::new(ticket, &["waiting", "offered", "assigned"], "assigned", "transferred");
            m.agent = Some(to);
            m.detail = detail;
            let entry = store::apply(&mut tx, &m)
                .await?
                .ok_or_else(|| ApiError::conflict("not_transferable", "the ticket changed meanwhile"))?;
            store::open_assignment(&mut tx, ticket, to, &entry.channel, "transfer", true).await?;
            let (outcome, _) = self
                .inner
                .live
                .assign_to(ticket, &before.queue, &before.channel, to, true, before.agent_id)
                .await?;
            match outcome {
                TakeOutcome::Done => {}
                TakeOutcome::NotOnline => {
                    return Err(ApiError::conflict("agent_not_online", "the agent is not online"));
                }
                TakeOutcome::Full => {
                    return Err(ApiError::conflict(
                        "at_capacity",
                        "the agent has no room on this channel",
                    ));
                }
                TakeOutcome::Gone => {
                    return Err(ApiError::conflict("not_transferable", "the ticket changed meanwhile"));
                }
                TakeOutcome::Rebuilding => return Err(rebuilding()),
            }
            self.stage_assigned(&mut tx, &entry, to, "transfer", now).await?;
            entry
        } else {
            let name = to_queue.ok_or_else(|| ApiError::field("agent_id", "give agent_id or queue"))?;
            self.inner.catalog.fresh().await?;
            let def = self
                .inner
                .catalog
                .queues()
                .into_iter()
                .find(|q| q.name == name)
                .ok_or_else(|| ApiError::field("queue", "no active queue with this name"))?;
            let tier = if tier_rank(&def.tier) > tier_rank(&before.tier) {
                def.tier.clone()
            } else {
                before.tier.clone()
            };
            let mut m = Move::new(ticket, &["waiting", "offered", "assigned"], "waiting", "transferred");
            m.queue = Some(name);
            m.detail = detail;
            store::apply(&mut tx, &m)
                .await?
                .ok_or_else(|| ApiError::conflict("not_transferable", "the ticket changed meanwhile"))?;
            let entry = store::set_requirement(
                &mut tx,
                ticket,
                &tier,
                &before.priority,
                before.score,
                "requirement",
                serde_json::json!({"tier": tier, "skill": def.skill}),
            )
            .await?
            .ok_or_else(|| ApiError::not_found("queue entry"))?;
            sqlx::query("UPDATE queue_entry SET skill = COALESCE($2, skill) WHERE ticket_id = $1")
                .bind(ticket)
                .bind(&def.skill)
                .execute(&mut *tx)
                .await?;
            store::release_assignment(&mut tx, ticket).await?;
            self.inner
                .live
                .release(ticket, &before.queue, &before.channel, now.timestamp_millis())
                .await?;
            let mut live = live_ticket(&entry);
            live.skill = def.skill.clone().or(live.skill);
            self.inner.live.enqueue(&live).await?;
            entry
        };
        self.inner
            .outbox
            .stage(
                &mut tx,
                TicketTransferredV1 {
                    ticket_id: ticket,
                    customer_id: entry.customer_id,
                    from_agent_id: before.agent_id,
                    to_agent_id: to_agent,
                    queue: entry.queue.clone(),
                    reason,
                    actor_id: actor,
                    transferred_at: now,
                },
            )
            .await?;
        self.inner.outbox.commit(tx).await?;
        self.wake();
        store::entry(&self.inner.pool, ticket)
            .await?
            .ok_or_else(|| ApiError::not_found("queue entry"))
    }

    /// Raises a ticket's priority and, with `tier_up`, the tier it needs; a holder below the new
    /// tier gives it back to the queue. Returns the new tier.
    pub async fn escalate(
        &self,
        tx: &mut Tx,
        ticket: Uuid,
        reason: &str,
        raise_tier: bool,
        supervisor: Option<Uuid>,
    ) -> anyhow::Result<Option<(QueueEntryRow, String)>> {
        let Some(before) = store::entry_for_update(tx, ticket).await? else {
            return Ok(None);
        };
        if matches!(before.status.as_str(), "closed" | "held") {
            return Ok(None);
        }
        let now = Utc::now();
        let new_tier = if raise_tier {
            tier_up(&before.tier).to_owned()
        } else {
            before.tier.clone()
        };
        let new_priority = match priority(&before.priority) {
            Priority::Low => Priority::Normal,
            Priority::Normal => Priority::High,
            Priority::High | Priority::Urgent => Priority::Urgent,
        };
        let score = queue::score(
            before.enqueued_at,
            new_priority,
            standing(&before, true),
            &self.inner.settings,
        )
        .min(before.score);
        let entry = store::set_requirement(
            tx,
            ticket,
            &new_tier,
            new_priority.as_str(),
            score,
            "escalated",
            serde_json::json!({"reason": reason, "from_tier": before.tier, "to_tier": new_tier, "priority": new_priority.as_str()}),
        )
        .await?
        .ok_or_else(|| anyhow::anyhow!("queue entry vanished"))?;
        let holder_tier = before
            .agent_id
            .and_then(|a| self.inner.catalog.agent(a))
            .map(|a| a.tier);
        match before.status.as_str() {
            "waiting" => {
                self.inner
                    .live
                    .update_waiting(&entry.queue, ticket, score, &new_tier)
                    .await?;
            }
            "offered" | "assigned"
                if holder_tier
                    .as_deref()
                    .is_some_and(|t| tier_rank(t) < tier_rank(&new_tier)) =>
            {
                // Re-routed: the holder's tier is below what the ticket now needs.
                let agent = before.agent_id.unwrap_or_default();
                let mut m = Move::new(ticket, &["offered", "assigned"], "waiting", "rerouted");
                m.detail = serde_json::json!({"from_agent_id": agent, "tier": new_tier});
                store::apply(tx, &m).await?;
                store::release_assignment(tx, ticket).await?;
                self.inner
                    .live
                    .release(ticket, &before.queue, &before.channel, now.timestamp_millis())
                    .await?;
                let mut live = live_ticket(&entry);
                live.tried = vec![agent];
                self.inner.live.enqueue(&live).await?;
                self.wake();
            }
            _ => {}
        }
        self.inner
            .outbox
            .stage(
                tx,
                TicketEscalatedV1 {
                    ticket_id: ticket,
                    customer_id: entry.customer_id,
                    from_tier: before.tier.clone(),
                    to_tier: new_tier.clone(),
                    priority: new_priority,
                    reason: reason.to_owned(),
                    agent_id: before.agent_id,
                    supervisor_id: supervisor,
                    escalated_at: now,
                },
            )
            .await?;
        tracing::info!(ticket_id = %ticket, from = %before.tier, to = %new_tier, reason, "ticket escalated");
        Ok(Some((entry, new_tier)))
    }

    /// Moves a waiting ticket ahead (its clock gave the warning).
    pub async fn raise(&self, tx: &mut Tx, ticket: Uuid) -> anyhow::Result<()> {
        let Some(e) = store::entry_for_update(tx, ticket).await? else {
            return Ok(());
        };
        let score = queue::score(
            e.enqueued_at,
            priority(&e.priority),
            standing(&e, true),
            &self.inner.settings,
        )
        .min(e.score);
        store::set_requirement(
            tx,
            ticket,
            &e.tier,
            &e.priority,
            score,
            "raised",
            serde_json::json!({"reason": "sla_warning"}),
        )
        .await?;
        if e.status == "waiting" {
            self.inner.live.update_waiting(&e.queue, ticket, score, &e.tier).await?;
        }
        Ok(())
    }

    /// The supervisor to tell about a ticket: its agent's, else the configured one.
    pub fn supervisor_of(&self, agent: Option<Uuid>) -> Option<Uuid> {
        agent
            .and_then(|a| self.inner.catalog.agent(a))
            .and_then(|a| a.supervisor_id)
            .or(self.inner.settings.escalation_supervisor_id)
    }

    /// Rebuilds the live state from Postgres (Redis was flushed or lost; `force`: an admin asked).
    /// One replica at a time; while it runs, offers, takes and accepts are refused (the Lua
    /// steps see the lock), and claims already in flight get a moment to commit first.
    pub async fn rebuild(&self, force: bool) -> anyhow::Result<Option<usize>> {
        let owner = Uuid::new_v4().to_string();
        if !self.inner.live.lock_rebuild(&owner, 60_000).await? {
            return Ok(None);
        }
        let live = &self.inner.live;
        if !force && live.is_built().await? {
            // Another replica finished a rebuild just before this one took the lock.
            live.finish_rebuild(&[]).await?;
            return Ok(Some(0));
        }
        tokio::time::sleep(REBUILD_GRACE).await;
        let started = Utc::now();
        live.wipe().await?;
        self.inner.catalog.refresh().await?;
        let agents = self.inner.catalog.agents();
        let capacities: Vec<(Uuid, &BTreeMap<String, u16>)> = agents.iter().map(|a| (a.id, &a.capacity.0)).collect();
        live.set_capacities(&capacities).await?;
        let entries = store::live_entries(&self.inner.pool).await?;
        let tried: std::collections::HashMap<Uuid, Vec<Uuid>> = sqlx::query_as::<_, (Uuid, Vec<Uuid>)>(
            "SELECT l.ticket_id, array_agg(DISTINCT l.agent_id) FROM routing_log l \
             JOIN queue_entry e ON e.ticket_id = l.ticket_id AND e.status = 'waiting' \
             WHERE l.kind IN ('offer_expired', 'declined', 'agent_away') AND l.agent_id IS NOT NULL \
             GROUP BY l.ticket_id",
        )
        .fetch_all(&self.inner.pool)
        .await?
        .into_iter()
        .collect();
        let mut queues: Vec<String> = self.inner.catalog.queue_names();
        let mut loads: std::collections::HashMap<(Uuid, String), u32> = std::collections::HashMap::new();
        let mut waiting = Vec::new();
        let mut held = Vec::new();
        for e in &entries {
            match (e.status.as_str(), e.agent_id) {
                ("waiting", _) => {
                    let mut t = live_ticket(e);
                    t.tried = tried.get(&e.ticket_id).cloned().unwrap_or_default();
                    waiting.push(t);
                    // Written as it goes, so a long queue is not copied whole.
                    if waiting.len() >= crate::live::BULK {
                        live.enqueue_many(&waiting).await?;
                        waiting.clear();
                    }
                }
                ("offered" | "assigned", Some(agent)) => {
                    let expires =
                        (e.status == "offered").then(|| e.offer_expires_at.map_or(0, |t| t.timestamp_millis()));
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
        let loads: Vec<(Uuid, String, u32)> = loads.into_iter().map(|((a, ch), n)| (a, ch, n)).collect();
        live.set_loads(&loads).await?;
        live.finish_rebuild(&queues).await?;
        tracing::info!(entries = entries.len(), "live state rebuilt from Postgres");
        // A ticket queued while the rebuild read Postgres may have reached Redis before the
        // wipe and Postgres after the read: queue again what started waiting since (ZADD NX,
        // so tickets already there keep their place).
        tokio::time::sleep(REBUILD_GRACE).await;
        let late: Vec<QueueEntryRow> = sqlx::query_as(&format!(
            "SELECT {} FROM queue_entry WHERE status = 'waiting' AND updated_at >= $1",
            store::COLUMNS
        ))
        .bind(started - chrono::Duration::seconds(2))
        .fetch_all(&self.inner.pool)
        .await?;
        let late: Vec<LiveTicket> = late.iter().map(live_ticket).collect();
        live.enqueue_many(&late).await?;
        self.forget_agents();
        self.wake();
        Ok(Some(entries.len()))
    }
}

/// Every replica's dispatcher: rebuilds a lost live state, returns lapsed offers and offers
/// waiting tickets, when woken and at least every `dispatch_interval_ms`.
pub struct Dispatcher {
    pub router: Router,
}

impl Task for Dispatcher {
    fn run(self: Box<Self>, cancel: CancellationToken) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let r = self.router;
            let interval = Duration::from_millis(r.inner.settings.dispatch_interval_ms.max(10));
            let mut last_sweep = std::time::Instant::now();
            loop {
                let pass = async {
                    if !r.inner.live.is_built().await? {
                        r.rebuild(false).await?;
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
