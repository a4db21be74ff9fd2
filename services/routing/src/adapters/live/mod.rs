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

use platform::kv::Redis;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use uuid::Uuid;

use crate::agents;

/// A waiting ticket as the live queues hold it.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveTicket {
    pub ticket_id: Uuid,
    /// Carried for the events an offer or take publishes.
    pub customer_id: Option<Uuid>,
    pub queue: String,
    pub score: f64,
    pub channel: String,
    pub tier: String,
    pub skill: Option<String>,
    pub language: Option<String>,
    /// When it started waiting (ms since the epoch), for relaxation.
    pub enqueued_ms: i64,
    pub tried: Vec<Uuid>,
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

static TAKE_FIRST: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        -- KEYS: presence, load, cap, rebuilding
        -- ARGV: agent, key prefix, then (queue, ticket, channel) for each candidate, best first
        if redis.call('EXISTS', KEYS[4]) == 1 then return {-3, 0} end
        if redis.call('GET', KEYS[1]) ~= 'online' then return {-1, 0} end
        local full = false
        for i = 3, #ARGV, 3 do
          local qk = ARGV[2] .. 'queue:' .. ARGV[i]
          if redis.call('ZSCORE', qk, ARGV[i + 1]) ~= false then
            local load = tonumber(redis.call('HGET', KEYS[2], ARGV[i + 2]) or '0')
            local cap = tonumber(redis.call('HGET', KEYS[3], ARGV[i + 2]) or '0')
            if load >= cap then
              full = true
            else
              redis.call('ZREM', qk, ARGV[i + 1])
              redis.call('HINCRBY', KEYS[2], ARGV[i + 2], 1)
              redis.call('SET', ARGV[2] .. 'holder:' .. ARGV[i + 1], ARGV[1])
              return {1, (i - 3) / 3}
            end
          end
        end
        if full then return {-2, 0} end
        return {0, 0}",
    )
});

static TAKE_MANY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        -- KEYS: rebuilding, offers
        -- ARGV: key prefix, then (queue, ticket, agent, channel, offer expiry ms or 0 to take)
        -- per claim. One code per claim: 1 granted, 0 gone, -1 agent not online, -2 agent full.
        if redis.call('EXISTS', KEYS[1]) == 1 then return {-3} end
        local p = ARGV[1]
        local out = {}
        for i = 2, #ARGV, 5 do
          local q, t, a, ch, exp = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
          local qk = p .. 'queue:' .. q
          local code = 1
          if redis.call('ZSCORE', qk, t) == false then
            code = 0
          elseif redis.call('GET', p .. 'presence:live:' .. a) ~= 'online' then
            code = -1
          else
            local lk = p .. 'load:' .. a
            local load = tonumber(redis.call('HGET', lk, ch) or '0')
            local cap = tonumber(redis.call('HGET', p .. 'cap:' .. a, ch) or '0')
            if load >= cap then
              code = -2
            else
              redis.call('ZREM', qk, t)
              redis.call('HINCRBY', lk, ch, 1)
              if exp ~= '0' then
                redis.call('SET', p .. 'offer:' .. t, a)
                redis.call('ZADD', KEYS[2], exp, t)
              else
                redis.call('SET', p .. 'holder:' .. t, a)
              end
            end
          end
          out[#out + 1] = code
        end
        return out",
    )
});

static HEADS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        -- KEYS: the queues (a queue may appear twice, at two offsets); ARGV: heads per queue,
        -- ticket hash key prefix, then each queue's offset.
        -- Each head as 'queue index|ticket|score|ch|tier|skill|lang|enq|tried|cust'; a member
        -- without its hash (a leftover the rebuild corrects) is left out.
        local out = {}
        local n = tonumber(ARGV[1])
        for qi, q in ipairs(KEYS) do
          local from = tonumber(ARGV[2 + qi] or '0')
          local members = redis.call('ZRANGE', q, from, from + n - 1, 'WITHSCORES')
          for i = 1, #members, 2 do
            local id = members[i]
            local f = redis.call('HMGET', ARGV[2] .. id, 'ch', 'tier', 'skill', 'lang', 'enq', 'tried', 'cust')
            if f[1] then
              out[#out + 1] = table.concat({qi, id, members[i + 1], f[1], f[2] or '', f[3] or '', f[4] or '',
                f[5] or '', f[6] or '', f[7] or ''}, '|')
            end
          end
        end
        return out",
    )
});

static ACCEPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        -- KEYS: offer, offers, holder, rebuilding; ARGV: ticket, agent
        if redis.call('EXISTS', KEYS[4]) == 1 then return -3 end
        if redis.call('GET', KEYS[1]) ~= ARGV[2] then return 0 end
        redis.call('DEL', KEYS[1])
        redis.call('ZREM', KEYS[2], ARGV[1])
        redis.call('SET', KEYS[3], ARGV[2])
        return 1",
    )
});

static GIVE_BACK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        -- KEYS: offer, offers, holder, load, queue, ticket hash, queues
        -- ARGV: ticket, agent, channel, score, remember (1: do not offer it to them again), queue name
        if redis.call('GET', KEYS[1]) ~= ARGV[2] and redis.call('GET', KEYS[3]) ~= ARGV[2] then return 0 end
        redis.call('DEL', KEYS[1], KEYS[3])
        redis.call('ZREM', KEYS[2], ARGV[1])
        if redis.call('HINCRBY', KEYS[4], ARGV[3], -1) < 0 then redis.call('HSET', KEYS[4], ARGV[3], 0) end
        redis.call('ZADD', KEYS[5], ARGV[4], ARGV[1])
        redis.call('SADD', KEYS[7], ARGV[6])
        if ARGV[5] == '1' then
          local tried = redis.call('HGET', KEYS[6], 'tried')
          if tried and tried ~= '' then tried = tried .. ',' .. ARGV[2] else tried = ARGV[2] end
          redis.call('HSET', KEYS[6], 'tried', tried)
        end
        return 1",
    )
});

static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        -- KEYS: offer, offers, holder, ticket hash, queue, idle
        -- ARGV: ticket, channel, now (ms), load key prefix
        local agent = redis.call('GET', KEYS[3])
        if not agent then agent = redis.call('GET', KEYS[1]) end
        redis.call('DEL', KEYS[1], KEYS[3], KEYS[4])
        redis.call('ZREM', KEYS[2], ARGV[1])
        redis.call('ZREM', KEYS[5], ARGV[1])
        if not agent then return '' end
        local lk = ARGV[4] .. agent
        if redis.call('HINCRBY', lk, ARGV[2], -1) < 0 then redis.call('HSET', lk, ARGV[2], 0) end
        redis.call('ZADD', KEYS[6], ARGV[3], agent)
        return agent",
    )
});

static ASSIGN_TO: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        -- KEYS: offer, offers, holder, queue, to presence, to load, to cap, ticket hash, rebuilding
        -- ARGV: ticket, to agent, channel, check (1: must be online with free capacity), load key prefix,
        --       expected current holder ('' for any)
        if redis.call('EXISTS', KEYS[9]) == 1 then return {-3, ''} end
        local cur = redis.call('GET', KEYS[3])
        if not cur then cur = redis.call('GET', KEYS[1]) end
        if ARGV[6] ~= '' and cur ~= ARGV[6] then return {0, ''} end
        if cur == ARGV[2] then return {1, cur} end
        if ARGV[4] == '1' then
          if redis.call('GET', KEYS[5]) ~= 'online' then return {-1, ''} end
          local load = tonumber(redis.call('HGET', KEYS[6], ARGV[3]) or '0')
          local cap = tonumber(redis.call('HGET', KEYS[7], ARGV[3]) or '0')
          if load >= cap then return {-2, ''} end
        end
        redis.call('DEL', KEYS[1], KEYS[8])
        redis.call('ZREM', KEYS[2], ARGV[1])
        redis.call('ZREM', KEYS[4], ARGV[1])
        if cur then
          local lk = ARGV[5] .. cur
          if redis.call('HINCRBY', lk, ARGV[3], -1) < 0 then redis.call('HSET', lk, ARGV[3], 0) end
        end
        redis.call('HINCRBY', KEYS[6], ARGV[3], 1)
        redis.call('SET', KEYS[3], ARGV[2])
        return {1, cur or ''}",
    )
});

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

    fn ticket_key(&self, ticket: Uuid) -> String {
        self.key(&["t", &ticket.to_string()])
    }

    fn offer_key(&self, ticket: Uuid) -> String {
        self.key(&["offer", &ticket.to_string()])
    }

    fn holder_key(&self, ticket: Uuid) -> String {
        self.key(&["holder", &ticket.to_string()])
    }

    fn load_key(&self, agent: Uuid) -> String {
        self.key(&["load", &agent.to_string()])
    }

    fn load_prefix(&self) -> String {
        self.key(&["load", ""])
    }

    fn cap_key(&self, agent: Uuid) -> String {
        self.key(&["cap", &agent.to_string()])
    }

    fn presence_key(&self, agent: Uuid) -> String {
        agents::live_key(&self.redis.keys, agent)
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
            let tried: Vec<String> = t.tried.iter().map(Uuid::to_string).collect();
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
    pub async fn update_waiting(&self, queue: &str, ticket: Uuid, score: f64, tier: &str) -> redis::RedisResult<()> {
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
    pub async fn take_many(&self, claims: &[(&LiveTicket, Uuid, Option<i64>)]) -> redis::RedisResult<Vec<TakeOutcome>> {
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.redis.conn.clone();
        let mut inv = TAKE_MANY.prepare_invoke();
        inv.key(self.key(&["rebuilding"]))
            .key(self.key(&["offers"]))
            .arg(self.key(&[""]));
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
    /// different ticket without a round trip per ticket someone else took.
    pub async fn take_first(&self, candidates: &[LiveTicket], agent: Uuid) -> redis::RedisResult<(TakeOutcome, usize)> {
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
            .arg(self.key(&[""]));
        for t in candidates {
            inv.arg(&t.queue).arg(t.ticket_id.to_string()).arg(&t.channel);
        }
        let (code, index): (i64, i64) = inv.invoke_async(&mut conn).await?;
        Ok((outcome(code), usize::try_from(index).unwrap_or(0)))
    }

    /// The agent accepts their offer: `Done`, `Gone` (not, or no longer, theirs) or `Rebuilding`.
    pub async fn accept(&self, ticket: Uuid, agent: Uuid) -> redis::RedisResult<TakeOutcome> {
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

    /// Puts a ticket offered to or held by `agent` back in `queue` at `score`; `remember` keeps
    /// the agent from being offered it again. False when the agent had nothing of it.
    #[allow(clippy::too_many_arguments)]
    pub async fn give_back(
        &self,
        ticket: Uuid,
        agent: Uuid,
        channel: &str,
        queue: &str,
        score: f64,
        remember: bool,
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
            .arg(if remember { "1" } else { "0" })
            .arg(queue)
            .invoke_async(&mut conn)
            .await?;
        Ok(code == 1)
    }

    /// A ticket is done with (resolved, closed, cancelled, held): out of its queue, its holder's
    /// capacity freed. Returns the agent who had it.
    pub async fn release(
        &self,
        ticket: Uuid,
        queue: &str,
        channel: &str,
        now_ms: i64,
    ) -> redis::RedisResult<Option<Uuid>> {
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

    /// Gives a ticket to `to`, from whoever has it (or its queue). With `check`, `to` must be
    /// online with free capacity; `expected` names the holder it must be taken from. Returns the
    /// outcome and the previous holder.
    pub async fn assign_to(
        &self,
        ticket: Uuid,
        queue: &str,
        channel: &str,
        to: Uuid,
        check: bool,
        expected: Option<Uuid>,
    ) -> redis::RedisResult<(TakeOutcome, Option<Uuid>)> {
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
            .arg(if check { "1" } else { "0" })
            .arg(self.load_prefix())
            .arg(expected.map(|e| e.to_string()).unwrap_or_default())
            .invoke_async(&mut conn)
            .await?;
        Ok((outcome(code), prev.parse().ok()))
    }

    /// Offers whose time ran out by `now_ms`, with the agent each was made to.
    pub async fn offers(&self, until_ms: Option<i64>, limit: isize) -> redis::RedisResult<Vec<(Uuid, Uuid)>> {
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
            if let Ok(t) = id.parse::<Uuid>() {
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
    pub async fn set_capacity(&self, agent: Uuid, capacity: &BTreeMap<String, u16>) -> redis::RedisResult<()> {
        self.set_capacities(&[(agent, capacity)]).await
    }

    /// Sets agents' capacities per channel, [`BULK`] agents per pipeline; each agent's hash is
    /// replaced in one step, so a take never sees it empty.
    pub async fn set_capacities(&self, agents: &[(Uuid, &BTreeMap<String, u16>)]) -> redis::RedisResult<()> {
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

    /// Agents listed online whose live status has not expired (with a few seconds' grace for
    /// clocks that differ between replicas); entries long expired are dropped on the way. `None`
    /// while nobody is listed, e.g. just after an upgrade from a version without the list:
    /// callers then look at every agent.
    pub async fn online_ids(&self) -> redis::RedisResult<Option<Vec<Uuid>>> {
        const GRACE_MS: i64 = 5_000;
        let mut conn = self.redis.conn.clone();
        let key = agents::online_key(&self.redis.keys);
        let since = chrono::Utc::now().timestamp_millis() - GRACE_MS;
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

    /// Presence, load and idle time of each agent, in order.
    pub async fn agents(&self, ids: &[Uuid]) -> redis::RedisResult<Vec<AgentLive>> {
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
            let presence: Option<String> = redis::from_redis_value(chunk[0].clone()).unwrap_or(None);
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

    /// Whether the live state was built from Postgres (false after Redis lost it).
    pub async fn is_built(&self) -> redis::RedisResult<bool> {
        let mut conn = self.redis.conn.clone();
        conn.exists(self.key(&["built"])).await
    }

    /// Takes the rebuild lock for `ttl_ms`; false when another replica holds it.
    pub async fn lock_rebuild(&self, owner: &str, ttl_ms: u64) -> redis::RedisResult<bool> {
        let mut conn = self.redis.conn.clone();
        let ok: Option<String> = redis::cmd("SET")
            .arg(self.key(&["rebuilding"]))
            .arg(owner)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms)
            .query_async(&mut conn)
            .await?;
        Ok(ok.is_some())
    }

    /// Deletes every live key except presence, ready for a rebuild.
    pub async fn wipe(&self) -> redis::RedisResult<()> {
        let mut conn = self.redis.conn.clone();
        let presence = self.key(&["presence", ""]);
        let rebuilding = self.key(&["rebuilding"]);
        let mut keys: Vec<String> = Vec::new();
        {
            let opts = redis::ScanOptions::default()
                .with_pattern(self.redis.keys.pattern())
                .with_count(BULK);
            let mut iter: redis::AsyncIter<String> = conn.scan_options(opts).await?;
            while let Some(k) = futures_util::StreamExt::next(&mut iter).await {
                let k = k?;
                if !k.starts_with(&presence) && k != rebuilding {
                    keys.push(k);
                }
            }
        }
        for chunk in keys.chunks(BULK) {
            conn.del::<_, ()>(chunk).await?;
        }
        Ok(())
    }

    /// Sets agents' loads per channel during a rebuild, [`BULK`] per pipeline.
    pub async fn set_loads(&self, loads: &[(Uuid, String, u32)]) -> redis::RedisResult<()> {
        let mut conn = self.redis.conn.clone();
        for chunk in loads.chunks(BULK) {
            let mut pipe = redis::pipe();
            for (agent, channel, n) in chunk {
                pipe.hset(self.load_key(*agent), channel, *n).ignore();
            }
            pipe.query_async::<()>(&mut conn).await?;
        }
        Ok(())
    }

    /// Restores offers (ticket, agent, expiry in ms) and holdings (no expiry) during a rebuild,
    /// [`BULK`] per pipeline (loads are set with [`Self::set_loads`]).
    pub async fn restore_holdings(&self, held: &[(Uuid, Uuid, Option<i64>)]) -> redis::RedisResult<()> {
        let mut conn = self.redis.conn.clone();
        for chunk in held.chunks(BULK) {
            let mut pipe = redis::pipe();
            for (ticket, agent, offer_expires_ms) in chunk {
                match offer_expires_ms {
                    Some(ms) => pipe
                        .set(self.offer_key(*ticket), agent.to_string())
                        .ignore()
                        .zadd(self.key(&["offers"]), ticket.to_string(), *ms)
                        .ignore(),
                    None => pipe.set(self.holder_key(*ticket), agent.to_string()).ignore(),
                };
            }
            pipe.query_async::<()>(&mut conn).await?;
        }
        Ok(())
    }

    pub async fn finish_rebuild(&self, queues: &[String]) -> redis::RedisResult<()> {
        let mut conn = self.redis.conn.clone();
        let mut pipe = redis::pipe();
        pipe.atomic();
        if !queues.is_empty() {
            pipe.sadd(self.key(&["queues"]), queues).ignore();
        }
        pipe.set(self.key(&["built"]), "1")
            .ignore()
            .del(self.key(&["rebuilding"]))
            .ignore()
            .query_async::<()>(&mut conn)
            .await
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
