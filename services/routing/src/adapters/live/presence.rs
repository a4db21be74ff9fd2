//! Agents' presence in Redis, kept alive by heartbeats, and the key names the live queues'
//! scripts read it by.
//!
//! Whether a live status still holds is a rule of the service's clock: the value carries when
//! it expires by that clock (`online:<ms>`), and every reader (the Lua steps included, given
//! the clock's time as an argument) compares it with the clock's now. The key's Redis TTL is
//! only a generous bound that collects statuses nobody renews.

use contracts::AgentId;
use platform::Clock;
use platform::kv::Redis;
use redis::AsyncCommands;

/// The key holding an agent's live status and when it expires (see [`live_value`]).
pub fn live_key(keys: &platform::kv::Keys, agent: AgentId) -> String {
    keys.key(&["presence", "live", &agent.to_string()])
}

/// A live status as stored: `status` until `expires_ms` (ms since the epoch, by the clock).
pub fn live_value(status: &str, expires_ms: i64) -> String {
    format!("{status}:{expires_ms}")
}

/// The status a stored live value shows at `now_ms` (by the clock): `None` once it expired. A
/// value without an expiry (written before expiries were stored) holds while its key lives.
pub fn live_status(value: &str, now_ms: i64) -> Option<&str> {
    match value.rsplit_once(':') {
        Some((status, expires)) => match expires.parse::<i64>() {
            Ok(expires_ms) => (expires_ms > now_ms).then_some(status),
            Err(_) => Some(value),
        },
        None => Some(value),
    }
}

/// How long Redis keeps a live status nobody renews, at least: it is collected, not expired,
/// this way (an hour, or twenty heartbeat intervals when longer).
fn gc_secs(ttl_secs: u64) -> u64 {
    ttl_secs.saturating_mul(20).max(3600)
}

/// The sorted set of agents who are online: agent → when their live status expires (ms since
/// the epoch), so the dispatcher reads the states of online agents only, not of every profile.
pub fn online_key(keys: &platform::kv::Keys) -> String {
    keys.key(&["presence", "online"])
}

/// Presence in Redis: the live status expires `ttl` after the last heartbeat, by the clock; the
/// chosen status is remembered, so an agent whose heartbeats stop reads as `away`, not as what
/// they chose. Online agents are also listed in [`online_key`] until their live status expires.
#[derive(Clone)]
pub struct Presence {
    redis: Redis,
    ttl_secs: u64,
    clock: Clock,
}

impl Presence {
    pub fn new(redis: Redis, ttl_secs: u64, clock: Clock) -> Self {
        Self {
            redis,
            ttl_secs: ttl_secs.max(1),
            clock,
        }
    }

    /// Now, by the clock presence is judged by.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// When a status set or renewed now expires, ms by the clock.
    fn expires_ms(&self) -> i64 {
        self.clock.now().timestamp_millis() + i64::try_from(self.ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX / 2)
    }

    /// Adds to `pipe` the live status, expiring `ttl` from now by the clock.
    fn keep(&self, pipe: &mut redis::Pipeline, agent: AgentId, status: &str) {
        pipe.set_ex(
            self.live_key(agent),
            live_value(status, self.expires_ms()),
            gc_secs(self.ttl_secs),
        )
        .ignore();
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
            pipe.zadd(&online, agent.to_string(), self.expires_ms()).ignore();
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
            self.keep(&mut pipe, agent, status);
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
                pipe.atomic();
                self.keep(&mut pipe, agent, status);
                self.list(&mut pipe, agent, status);
                pipe.query_async::<()>(&mut conn).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// The agent's status now: the live one (unless it expired by the clock); `away` when
    /// heartbeats stopped; else `offline`.
    pub async fn get(&self, agent: AgentId) -> redis::RedisResult<String> {
        let mut conn = self.redis.conn.clone();
        let (live, chosen): (Option<String>, Option<String>) = redis::pipe()
            .get(self.live_key(agent))
            .get(self.chosen_key(agent))
            .query_async(&mut conn)
            .await?;
        let now_ms = self.clock.now().timestamp_millis();
        let live = live.as_deref().and_then(|v| live_status(v, now_ms)).map(str::to_owned);
        Ok(match (live, chosen.as_deref()) {
            (Some(status), _) => status,
            (None, Some("online" | "away")) => "away".to_owned(),
            _ => "offline".to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_status_holds_until_it_expires_by_the_clock() {
        let v = live_value("online", 1_000);
        assert_eq!(live_status(&v, 999), Some("online"));
        assert_eq!(live_status(&v, 1_000), None);
        assert_eq!(live_status("away", 5_000), Some("away"), "written before expiries");
        assert!(gc_secs(30) >= 3600);
    }
}
