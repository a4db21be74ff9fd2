//! Agents' presence in Redis, kept alive by heartbeats, and the key names the live queues'
//! scripts read it by.

use chrono::Utc;
use contracts::AgentId;
use platform::kv::Redis;
use redis::AsyncCommands;

/// The key holding an agent's live status (expires when heartbeats stop).
pub fn live_key(keys: &platform::kv::Keys, agent: AgentId) -> String {
    keys.key(&["presence", "live", &agent.to_string()])
}

/// The sorted set of agents who are online: agent → when their live status expires (ms since
/// the epoch), so the dispatcher reads the states of online agents only, not of every profile.
pub fn online_key(keys: &platform::kv::Keys) -> String {
    keys.key(&["presence", "online"])
}

/// Presence in Redis: the live status expires `ttl` after the last heartbeat; the chosen status
/// is remembered, so an agent whose heartbeats stop reads as `away`, not as what they chose.
/// Online agents are also listed in [`online_key`] until their live status expires.
#[derive(Clone)]
pub struct Presence {
    redis: Redis,
    ttl_secs: u64,
}

impl Presence {
    pub fn new(redis: Redis, ttl_secs: u64) -> Self {
        Self {
            redis,
            ttl_secs: ttl_secs.max(1),
        }
    }

    fn live_key(&self, agent: AgentId) -> String {
        live_key(&self.redis.keys, agent)
    }

    fn chosen_key(&self, agent: AgentId) -> String {
        self.redis.keys.key(&["presence", "chosen", &agent.to_string()])
    }

    /// Adds to `pipe` the agent's entry in the online list: listed until their live status
    /// expires while `status` is online, taken out otherwise.
    fn list(&self, pipe: &mut redis::Pipeline, agent: AgentId, status: &str) {
        let online = online_key(&self.redis.keys);
        if status == "online" {
            let expires_ms =
                Utc::now().timestamp_millis() + i64::try_from(self.ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
            pipe.zadd(&online, agent.to_string(), expires_ms).ignore();
        } else {
            pipe.zrem(&online, agent.to_string()).ignore();
        }
    }

    /// Sets the agent's status (`online`, `away`, `offline`).
    pub async fn set(&self, agent: AgentId, status: &str) -> redis::RedisResult<()> {
        let mut conn = self.redis.conn.clone();
        let mut pipe = redis::pipe();
        pipe.atomic().set(self.chosen_key(agent), status).ignore();
        if status == "offline" {
            pipe.del(self.live_key(agent)).ignore();
        } else {
            pipe.set_ex(self.live_key(agent), status, self.ttl_secs).ignore();
        }
        self.list(&mut pipe, agent, status);
        pipe.query_async::<()>(&mut conn).await
    }

    /// Keeps the chosen status alive; false when the agent is offline (nothing to keep alive).
    pub async fn heartbeat(&self, agent: AgentId) -> redis::RedisResult<bool> {
        let mut conn = self.redis.conn.clone();
        let chosen: Option<String> = conn.get(self.chosen_key(agent)).await?;
        match chosen.as_deref() {
            Some(status @ ("online" | "away")) => {
                let mut pipe = redis::pipe();
                pipe.atomic()
                    .set_ex(self.live_key(agent), status, self.ttl_secs)
                    .ignore();
                self.list(&mut pipe, agent, status);
                pipe.query_async::<()>(&mut conn).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// The agent's status now: the live one; `away` when heartbeats stopped; else `offline`.
    pub async fn get(&self, agent: AgentId) -> redis::RedisResult<String> {
        let mut conn = self.redis.conn.clone();
        let (live, chosen): (Option<String>, Option<String>) = redis::pipe()
            .get(self.live_key(agent))
            .get(self.chosen_key(agent))
            .query_async(&mut conn)
            .await?;
        Ok(match (live, chosen.as_deref()) {
            (Some(status), _) => status,
            (None, Some("online" | "away")) => "away".to_owned(),
            _ => "offline".to_owned(),
        })
    }
}
