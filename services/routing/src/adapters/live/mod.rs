//! The live state in Redis, rebuilt from Postgres whenever it is lost.
//!
//! Keys, under `<prefix>:routing:`:
//! - `queue:<name>`: sorted set of waiting tickets, score = adjusted enqueue time (ms);
//!   `queues`: the set of queue names;
//! - `t:<ticket>`: hash of what a waiting ticket needs (`q`, `ch`, `tier`, `skill`, `lang`,
//!   `enq`, `tried` — agents whose offer lapsed or who declined);
//! - `offer:<ticket>` → agent, with `offers` (sorted by expiry, ms) for the sweeper;
//! - `holder:<ticket>` → agent who took it;
//! - `load:<agent>` and `cap:<agent>`: hashes channel → tickets held/offered and capacity;
//! - `idle`: sorted set agent → when they last finished a ticket (ms);
//! - `built`: present while the live state matches Postgres.
//!
//! Offering, taking, accepting and giving back are Lua scripts: each checks and changes in one
//! atomic step, so with any number of replicas a ticket has one holder and no agent goes over
//! capacity. The scripts name the current holder's load key from a prefix argument, which needs
//! one Redis (not a cluster).

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use contracts::{AgentId, CustomerId, TicketId};
use platform::kv::Redis;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};

pub use presence::Presence;

pub mod presence;
mod rebuild;

/// A waiting ticket as the live queues hold it.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveTicket {
    pub ticket_id: TicketId,
    /// Carried for the events an offer or take publishes.
    pub customer_id: Option<CustomerId>,
    pub queue: String,
    pub score: f64,
    pub channel: String,
    pub tier: String,
    pub skill: Option<String>,
    pub language: Option<String>,
    /// When it started waiting (ms since the epoch), for relaxation.
    pub enqueued_ms: i64,
    pub tried: Vec<AgentId>,
}

/// An agent's live figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentLive {
    pub presence: Option<String>,
    pub load: BTreeMap<String, u16>,
    pub idle_since_ms: i64,
}

/// Why an offer or take did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TakeOutcome {
    Done,
    /// The ticket is no longer waiting (someone else got it, or it left the queue).
    Gone,
    /// The agent is not online.
    NotOnline,
    /// The agent is at capacity on the ticket's channel.
    Full,
    /// The live state is being rebuilt from Postgres; try again shortly.
    Rebuilding,
}

/// What a ticket given back remembers of the agent it leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveBack {
    /// Undoes a take Postgres refused: the agent may be offered it again.
    Undo,
    /// The agent declined, let the offer lapse or went away: not offered to them again.
    NotToThem,
}

/// What [`LiveQueues::assign_to`] checks of the agent who gets the ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// Online, with free capacity on the ticket's channel (a transfer).
    Required,
    /// Nothing: the assignment happened elsewhere and is recorded whatever their capacity.
    Unchecked,
}

/// A queue's live figures.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueStats {
    pub name: String,
    pub waiting: u64,
    /// Score of the head of the queue (ms since the epoch, adjusted by priority).
    pub head_score: Option<f64>,
    /// When the longest-waiting ticket entered (ms).
    pub oldest_enqueued_ms: Option<i64>,
}

static TAKE_FIRST: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/take_first.lua")));
static TAKE_MANY: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/take_many.lua")));
static HEADS: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/heads.lua")));
static ACCEPT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/accept.lua")));
static GIVE_BACK: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/give_back.lua")));
static RELEASE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/release.lua")));
static ASSIGN_TO: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/assign_to.lua")));
/// Entries per pipeline in bulk steps (a rebuild): commands of other tasks on the shared
/// connection wait behind one pipeline at a time, never behind the whole step.
pub const BULK: usize = 500;

fn outcome(code: i64) -> TakeOutcome {
    match code {
        1 => TakeOutcome::Done,
        -1 => TakeOutcome::NotOnline,
        -2 => TakeOutcome::Full,
        -3 => TakeOutcome::Rebuilding,
        _ => TakeOutcome::Gone,
    }
}

#[derive(Clone)]
pub struct LiveQueues {
    redis: Redis,
}

impl LiveQueues {
    pub fn new(redis: Redis) -> Self {
        Self { redis }
    }

    pub fn redis(&self) -> &Redis {
        &self.redis
    }

    fn key(&self, parts: &[&str]) -> String {
        self.redis.keys.key(parts)
    }

    fn queue_key(&self, queue: &str) -> String {
        self.key(&["queue", queue])
    }

    fn ticket_key(&self, ticket: TicketId) -> String {
        self.key(&["t", &ticket.to_string()])
    }

    fn offer_key(&self, ticket: TicketId) -> String {
        self.key(&["offer", &ticket.to_string()])
    }

    fn holder_key(&self, ticket: TicketId) -> String {
        self.key(&["holder", &ticket.to_string()])
    }

    fn load_key(&self, agent: AgentId) -> String {
        self.key(&["load", &agent.to_string()])
    }

    fn load_prefix(&self) -> String {
        self.key(&["load", ""])
    }

    fn cap_key(&self, agent: AgentId) -> String {
        self.key(&["cap", &agent.to_string()])
    }

    fn presence_key(&self, agent: AgentId) -> String {
        presence::live_key(&self.redis.keys, agent)
    }

    /// Puts a ticket in its queue with what it needs (idempotent: re-adding keeps its score).
    pub async fn enqueue(&self, t: &LiveTicket) -> redis::RedisResult<()> {
        self.enqueue_many(std::slice::from_ref(t)).await
    }

    /// [`Self::enqueue`] for many tickets: one atomic pipeline per [`BULK`] tickets.
    pub async fn enqueue_many(&self, tickets: &[LiveTicket]) -> redis::RedisResult<()> {
        let mut conn = self.redis.conn.clone();
        for chunk in tickets.chunks(BULK) {
            self.enqueue_chunk(&mut conn, chunk).await?;
        }
        Ok(())
    }

    async fn enqueue_chunk(&self, conn: &mut ConnectionManager, tickets: &[LiveTicket]) -> redis::RedisResult<()> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for t in tickets {
            let tried: Vec<String> = t.tried.iter().map(AgentId::to_string).collect();
            pipe.hset_multiple(
                self.ticket_key(t.ticket_id),
                &[
                    ("q", t.queue.as_str()),
                    ("ch", t.channel.as_str()),
                    ("tier", t.tier.as_str()),
                    ("skill", t.skill.as_deref().unwrap_or("")),
                    ("lang", t.language.as_deref().unwrap_or("")),
                    ("enq", &t.enqueued_ms.to_string()),
                    ("tried", &tried.join(",")),
                    ("cust", &t.customer_id.map(|c| c.to_string()).unwrap_or_default()),
                ],
            )
            .ignore()
            .cmd("ZADD")
            .arg(self.queue_key(&t.queue))
            .arg("NX")
            .arg(t.score)
            .arg(t.ticket_id.to_string())
            .ignore()
            .sadd(self.key(&["queues"]), &t.queue)
            .ignore();
        }
        pipe.query_async::<()>(conn).await
    }

    /// Changes what a waiting ticket needs and its place (an escalation, an SLA warning).
    pub async fn update_waiting(
        &self,
        queue: &str,
        ticket: TicketId,
        score: f64,
        tier: &str,
    ) -> redis::RedisResult<()> {
        let mut conn = self.redis.conn.clone();
        redis::pipe()
            .atomic()
            .cmd("ZADD")
            .arg(self.queue_key(queue))
            .arg("XX")
            .arg(score)
            .arg(ticket.to_string())
            .ignore()
            .hset(self.ticket_key(ticket), "tier", tier)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
    }

    /// The first `per_queue` waiting tickets of each queue, with what they need.
    pub async fn heads(&self, queues: &[String], per_queue: isize) -> redis::RedisResult<Vec<LiveTicket>> {
        let windows: Vec<(String, isize)> = queues.iter().map(|q| (q.clone(), 0)).collect();
        self.heads_at(&windows, per_queue).await
    }

    /// Up to `per_queue` tickets of each (queue, offset) window, in queue order from the offset:
    /// [`Self::heads`] reads each queue from its head; a queue may also be read further back.
    pub async fn heads_at(&self, windows: &[(String, isize)], per_queue: isize) -> redis::RedisResult<Vec<LiveTicket>> {
        if windows.is_empty() || per_queue <= 0 {
            return Ok(Vec::new());
        }
        let queues: Vec<String> = windows.iter().map(|(q, _)| q.clone()).collect();
        let mut conn = self.redis.conn.clone();
        // One script call: each head packed into one string, so a look at many heads costs one
        // reply to parse instead of one per field.
        let mut call = HEADS.prepare_invoke();
        for q in &queues {
            call.key(self.queue_key(q));
        }
        call.arg(per_queue).arg(self.key(&["t", ""]));
        for (_, offset) in windows {
            call.arg((*offset).max(0));
        }
        let packed: Vec<String> = call.invoke_async(&mut conn).await?;
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        Ok(packed
            .iter()
            .filter_map(|p| {
                let f: Vec<&str> = p.split('|').collect();
                let [qi, id, score, ch, tier, skill, lang, enq, tried, cust] = f.as_slice() else {
                    return None;
                };
                let queue = queues.get(qi.parse::<usize>().ok()?.checked_sub(1)?)?.clone();
                let score: f64 = score.parse().ok()?;
                Some(LiveTicket {
                    ticket_id: id.parse().ok()?,
                    customer_id: cust.parse().ok(),
                    queue,
                    score,
                    channel: opt(ch)?,
                    tier: opt(tier).unwrap_or_else(|| "junior".to_owned()),
                    skill: opt(skill),
                    language: opt(lang),
                    enqueued_ms: enq.parse().ok().unwrap_or(score as i64),
                    tried: tried.split(',').filter_map(|x| x.parse().ok()).collect(),
                })
            })
            .collect())
    }

    /// Offers (expiry in ms set) or gives each ticket to its agent, in one atomic call: an
    /// outcome per claim, in order. A claim is granted when its ticket still waits in its queue
    /// and its agent is online and under capacity on the ticket's channel; the ticket then
    /// leaves the queue and counts in the agent's load. All `Rebuilding` while a rebuild runs.
    /// `now_ms` is the clock's time, by which presence is judged.
    pub async fn take_many(
        &self,
        claims: &[(&LiveTicket, AgentId, Option<i64>)],
        now_ms: i64,
    ) -> redis::RedisResult<Vec<TakeOutcome>> {
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.redis.conn.clone();
        let mut inv = TAKE_MANY.prepare_invoke();
        inv.key(self.key(&["rebuilding"]))
            .key(self.key(&["offers"]))
            .arg(self.key(&[""]))
            .arg(now_ms);
        for (t, agent, expires) in claims {
            inv.arg(&t.queue)
                .arg(t.ticket_id.to_string())
                .arg(agent.to_string())
                .arg(&t.channel)
                .arg(expires.unwrap_or(0));
        }
        let codes: Vec<i64> = inv.invoke_async(&mut conn).await?;
        // The script answers a lone -3 while a rebuild runs.
        if codes == [-3] {
            return Ok(vec![TakeOutcome::Rebuilding; claims.len()]);
        }
        Ok(codes.into_iter().map(outcome).collect())
    }

    /// Gives `agent` the first of `candidates` (best first) still waiting, in one atomic step:
    /// the outcome and the index taken. Concurrent callers with the same list each get a
    /// different ticket without a round trip per ticket someone else took. `now_ms` is the
    /// clock's time, by which presence is judged.
    pub async fn take_first(
        &self,
        candidates: &[LiveTicket],
        agent: AgentId,
        now_ms: i64,
    ) -> redis::RedisResult<(TakeOutcome, usize)> {
        if candidates.is_empty() {
            return Ok((TakeOutcome::Gone, 0));
        }
        let mut conn = self.redis.conn.clone();
        let mut inv = TAKE_FIRST.prepare_invoke();
        inv.key(self.presence_key(agent))
            .key(self.load_key(agent))
            .key(self.cap_key(agent))
            .key(self.key(&["rebuilding"]))
            .arg(agent.to_string())
            .arg(self.key(&[""]))
            .arg(now_ms);
        for t in candidates {
            inv.arg(&t.queue).arg(t.ticket_id.to_string()).arg(&t.channel);
        }
        let (code, index): (i64, i64) = inv.invoke_async(&mut conn).await?;
        Ok((outcome(code), usize::try_from(index).unwrap_or(0)))
    }

    /// The agent accepts their offer: `Done`, `Gone` (not, or no longer, theirs) or `Rebuilding`.
    pub async fn accept(&self, ticket: TicketId, agent: AgentId) -> redis::RedisResult<TakeOutcome> {
        let mut conn = self.redis.conn.clone();
        let code: i64 = ACCEPT
            .key(self.offer_key(ticket))
            .key(self.key(&["offers"]))
            .key(self.holder_key(ticket))
            .key(self.key(&["rebuilding"]))
            .arg(ticket.to_string())
            .arg(agent.to_string())
            .invoke_async(&mut conn)
            .await?;
        Ok(outcome(code))
    }

    /// Puts a ticket offered to or held by `agent` back in `queue` at `score`; `how` says
    /// whether the agent may be offered it again. False when the agent had nothing of it.
    pub async fn give_back(
        &self,
        ticket: TicketId,
        agent: AgentId,
        channel: &str,
        queue: &str,
        score: f64,
        how: GiveBack,
    ) -> redis::RedisResult<bool> {
        let mut conn = self.redis.conn.clone();
        let code: i64 = GIVE_BACK
            .key(self.offer_key(ticket))
            .key(self.key(&["offers"]))
            .key(self.holder_key(ticket))
            .key(self.load_key(agent))
            .key(self.queue_key(queue))
            .key(self.ticket_key(ticket))
            .key(self.key(&["queues"]))
            .arg(ticket.to_string())
            .arg(agent.to_string())
            .arg(channel)
            .arg(score)
            .arg(if how == GiveBack::NotToThem { "1" } else { "0" })
            .arg(queue)
            .invoke_async(&mut conn)
            .await?;
        Ok(code == 1)
    }

    /// A ticket is done with (resolved, closed, cancelled, held): out of its queue, its holder's
    /// capacity freed. Returns the agent who had it.
    pub async fn release(
        &self,
        ticket: TicketId,
        queue: &str,
        channel: &str,
        now_ms: i64,
    ) -> redis::RedisResult<Option<AgentId>> {
        let mut conn = self.redis.conn.clone();
        let agent: String = RELEASE
            .key(self.offer_key(ticket))
            .key(self.key(&["offers"]))
            .key(self.holder_key(ticket))
            .key(self.ticket_key(ticket))
            .key(self.queue_key(queue))
            .key(self.key(&["idle"]))
            .arg(ticket.to_string())
            .arg(channel)
            .arg(now_ms)
            .arg(self.load_prefix())
            .invoke_async(&mut conn)
            .await?;
        Ok(agent.parse().ok())
    }

    /// Gives a ticket to `to`, from whoever has it (or its queue), checked as `check` says;
    /// `expected` names the holder it must be taken from; `now_ms` is the clock's time, by which
    /// presence is judged. Returns the outcome and the previous holder.
    #[allow(clippy::too_many_arguments)]
    pub async fn assign_to(
        &self,
        ticket: TicketId,
        queue: &str,
        channel: &str,
        to: AgentId,
        check: Room,
        expected: Option<AgentId>,
        now_ms: i64,
    ) -> redis::RedisResult<(TakeOutcome, Option<AgentId>)> {
        let mut conn = self.redis.conn.clone();
        let (code, prev): (i64, String) = ASSIGN_TO
            .key(self.offer_key(ticket))
            .key(self.key(&["offers"]))
            .key(self.holder_key(ticket))
            .key(self.queue_key(queue))
            .key(self.presence_key(to))
            .key(self.load_key(to))
            .key(self.cap_key(to))
            .key(self.ticket_key(ticket))
            .key(self.key(&["rebuilding"]))
            .arg(ticket.to_string())
            .arg(to.to_string())
            .arg(channel)
            .arg(if check == Room::Required { "1" } else { "0" })
            .arg(self.load_prefix())
            .arg(expected.map(|e| e.to_string()).unwrap_or_default())
            .arg(now_ms)
            .invoke_async(&mut conn)
            .await?;
        Ok((outcome(code), prev.parse().ok()))
    }

    /// Offers whose time ran out by `now_ms`, with the agent each was made to.
    pub async fn offers(&self, until_ms: Option<i64>, limit: isize) -> redis::RedisResult<Vec<(TicketId, AgentId)>> {
        let mut conn = self.redis.conn.clone();
        let max = until_ms.map_or_else(|| "+inf".to_owned(), |m| m.to_string());
        let ids: Vec<String> = conn
            .zrangebyscore_limit(self.key(&["offers"]), "-inf", max, 0, limit)
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            if let Ok(t) = id.parse::<TicketId>() {
                pipe.get(self.offer_key(t));
            }
        }
        let agents: Vec<Option<String>> = pipe.query_async(&mut conn).await?;
        Ok(ids
            .iter()
            .filter_map(|i| i.parse().ok())
            .zip(agents)
            .filter_map(|(t, a)| Some((t, a?.parse().ok()?)))
            .collect())
    }

    /// Sets an agent's capacity per channel.
    pub async fn set_capacity(&self, agent: AgentId, capacity: &BTreeMap<String, u16>) -> redis::RedisResult<()> {
        self.set_capacities(&[(agent, capacity)]).await
    }

    /// Sets agents' capacities per channel, [`BULK`] agents per pipeline; each agent's hash is
    /// replaced in one step, so a take never sees it empty.
    pub async fn set_capacities(&self, agents: &[(AgentId, &BTreeMap<String, u16>)]) -> redis::RedisResult<()> {
        let mut conn = self.redis.conn.clone();
        for chunk in agents.chunks(BULK) {
            let mut pipe = redis::pipe();
            pipe.atomic();
            for (agent, capacity) in chunk {
                let key = self.cap_key(*agent);
                pipe.del(&key).ignore();
                let pairs: Vec<(&str, u16)> = capacity.iter().map(|(k, v)| (k.as_str(), *v)).collect();
                if !pairs.is_empty() {
                    pipe.hset_multiple(&key, &pairs).ignore();
                }
            }
            pipe.query_async::<()>(&mut conn).await?;
        }
        Ok(())
    }

    /// Agents listed online whose live status has not expired by `now_ms` (the clock's time,
    /// with a few seconds' grace for clocks that differ between replicas); entries long expired
    /// are dropped on the way. `None` while nobody is listed, e.g. just after an upgrade from a
    /// version without the list: callers then look at every agent.
    pub async fn online_ids(&self, now_ms: i64) -> redis::RedisResult<Option<Vec<AgentId>>> {
        const GRACE_MS: i64 = 5_000;
        let mut conn = self.redis.conn.clone();
        let key = presence::online_key(&self.redis.keys);
        let since = now_ms - GRACE_MS;
        let (ids,): (Vec<String>,) = redis::pipe()
            .zrembyscore(&key, "-inf", format!("({since}"))
            .ignore()
            .zrangebyscore(&key, since, "+inf")
            .query_async(&mut conn)
            .await?;
        if ids.is_empty() {
            return Ok(None);
        }
        Ok(Some(ids.iter().filter_map(|id| id.parse().ok()).collect()))
    }

    /// Presence (as of `now_ms`, the clock's time: `None` once expired), load and idle time of
    /// each agent, in order.
    pub async fn agents(&self, ids: &[AgentId], now_ms: i64) -> redis::RedisResult<Vec<AgentLive>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.redis.conn.clone();
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.get(self.presence_key(*id))
                .hgetall(self.load_key(*id))
                .zscore(self.key(&["idle"]), id.to_string());
        }
        let raw: Vec<redis::Value> = pipe.query_async(&mut conn).await?;
        let mut out = Vec::with_capacity(ids.len());
        for chunk in raw.chunks(3) {
            let live: Option<String> = redis::from_redis_value(chunk[0].clone()).unwrap_or(None);
            let presence = live
                .as_deref()
                .and_then(|v| presence::live_status(v, now_ms))
                .map(str::to_owned);
            let load: HashMap<String, i64> = redis::from_redis_value(chunk[1].clone()).unwrap_or_default();
            let idle: Option<f64> = redis::from_redis_value(chunk[2].clone()).unwrap_or(None);
            out.push(AgentLive {
                presence,
                load: load
                    .into_iter()
                    .map(|(k, v)| (k, u16::try_from(v.max(0)).unwrap_or(u16::MAX)))
                    .collect(),
                idle_since_ms: idle.map_or(0, |v| v as i64),
            });
        }
        Ok(out)
    }

    pub async fn stats(&self) -> redis::RedisResult<Vec<QueueStats>> {
        let mut conn = self.redis.conn.clone();
        let mut names: Vec<String> = conn.smembers(self.key(&["queues"])).await?;
        names.sort();
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for name in &names {
            let key = self.queue_key(name);
            pipe.zcard(&key).zrange_withscores(&key, 0, 0);
        }
        let raw: Vec<redis::Value> = pipe.query_async(&mut conn).await?;
        let mut out = Vec::with_capacity(names.len());
        let mut heads = Vec::new();
        for (name, chunk) in names.into_iter().zip(raw.chunks(2)) {
            let waiting: u64 = redis::from_redis_value(chunk[0].clone()).unwrap_or(0);
            let head: Vec<(String, f64)> = redis::from_redis_value(chunk[1].clone()).unwrap_or_default();
            heads.push(head.first().map(|h| h.0.clone()));
            out.push(QueueStats {
                name,
                waiting,
                head_score: head.first().map(|(_, s)| *s),
                oldest_enqueued_ms: None,
            });
        }
        let mut pipe = redis::pipe();
        for h in &heads {
            pipe.hget(self.key(&["t", h.as_deref().unwrap_or("-")]), "enq");
        }
        let enq: Vec<Option<i64>> = pipe.query_async(&mut conn).await?;
        for (s, e) in out.iter_mut().zip(enq) {
            s.oldest_enqueued_ms = e.or(s.head_score.map(|v| v as i64));
        }
        Ok(out)
    }

    /// Tickets waiting in `queue`, head first.
    pub async fn waiting(&self, queue: &str, limit: isize) -> redis::RedisResult<Vec<String>> {
        let mut conn = self.redis.conn.clone();
        conn.zrange(self.queue_key(queue), 0, limit - 1).await
    }
}

impl LiveQueues {
    /// Names of the queues that have held tickets.
    pub async fn queue_names(&self) -> redis::RedisResult<Vec<String>> {
        let mut conn = self.redis.conn.clone();
        let mut names: Vec<String> = conn.smembers(self.key(&["queues"])).await?;
        names.sort();
        Ok(names)
    }
}
