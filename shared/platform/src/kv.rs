//! Redis: a self-reconnecting connection and the key naming rule.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::ExposeSecret;

use crate::config::RedisSettings;

/// A cheap-to-clone Redis handle; reconnects by itself after a connection loss.
#[derive(Clone)]
pub struct Redis {
    pub conn: ConnectionManager,
    pub keys: Keys,
}

impl Redis {
    pub async fn connect(settings: &RedisSettings, service: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(settings.url.expose_secret())
            .map_err(|e| anyhow::anyhow!("configuration key `redis.url`: {e}"))?;
        // While Redis is away a command fails within about two response timeouts (one quick
        // reconnection attempt) instead of waiting through the client's own long back-off:
        // callers decide (HTTP answers 503, consumers pause).
        let timeout = Duration::from_millis(settings.response_timeout_ms);
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(timeout))
            .set_connection_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(timeout);
        let conn = ConnectionManager::new_with_config(client, config).await?;
        Ok(Self {
            conn,
            keys: Keys::new(&settings.key_prefix, service),
        })
    }

    /// Counts one hit on the fixed-window counter `key` (`limit` hits per `window_secs`);
    /// `Some(seconds until the window ends)` once the limit is passed. Atomic across replicas.
    pub async fn rate_limit(&self, key: &str, limit: u32, window_secs: u32) -> redis::RedisResult<Option<u64>> {
        static SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
            redis::Script::new(
                "local n = redis.call('INCR', KEYS[1]) \
                 if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end \
                 if n > tonumber(ARGV[2]) then \
                   local ttl = redis.call('TTL', KEYS[1]) \
                   if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) ttl = tonumber(ARGV[1]) end \
                   return ttl \
                 end \
                 return -1",
            )
        });
        let mut conn = self.conn.clone();
        let ttl: i64 = SCRIPT
            .key(key)
            .arg(window_secs.max(1))
            .arg(limit)
            .invoke_async(&mut conn)
            .await?;
        Ok(u64::try_from(ttl).ok().map(|t| t.max(1)))
    }

    /// Takes up to `wanted` of the `limit` tokens of the current second under `key`, shared by
    /// every replica; returns how many were granted (0 when the second's budget is spent).
    pub async fn take_tokens(&self, key: &str, wanted: u32, limit: u32) -> redis::RedisResult<u32> {
        static SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
            redis::Script::new(
                "local n = tonumber(ARGV[1]) local limit = tonumber(ARGV[2]) \
                 local k = KEYS[1] .. ':' .. redis.call('TIME')[1] \
                 local used = redis.call('INCRBY', k, n) \
                 if used == n then redis.call('EXPIRE', k, 2) end \
                 local over = used - limit \
                 if over <= 0 then return n end \
                 local granted = n - over \
                 if granted < 0 then granted = 0 end \
                 redis.call('DECRBY', k, n - granted) \
                 return granted",
            )
        });
        if wanted == 0 {
            return Ok(0);
        }
        let mut conn = self.conn.clone();
        SCRIPT.key(key).arg(wanted).arg(limit).invoke_async(&mut conn).await
    }

    pub async fn ping(&self) -> redis::RedisResult<()> {
        let mut conn = self.conn.clone();
        redis::cmd("PING").query_async::<String>(&mut conn).await.map(|_| ())
    }
}

/// Builds keys as `<prefix>:<service>:<part>:<part>...`, so tenants, services and test runs
/// sharing one server never collide.
#[derive(Clone, Debug)]
pub struct Keys {
    base: String,
}

impl Keys {
    pub fn new(prefix: &str, service: &str) -> Self {
        let base = if prefix.is_empty() {
            service.to_owned()
        } else {
            format!("{prefix}:{service}")
        };
        Self { base }
    }

    pub fn key(&self, parts: &[&str]) -> String {
        let mut key = self.base.clone();
        for part in parts {
            key.push(':');
            key.push_str(part);
        }
        key
    }

    /// The pattern matching every key of this service (for `SCAN`).
    pub fn pattern(&self) -> String {
        format!("{}:*", self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_namespaced() {
        let k = Keys::new("edu", "routing");
        assert_eq!(k.key(&["queue", "general"]), "edu:routing:queue:general");
        assert_eq!(k.pattern(), "edu:routing:*");
        assert_eq!(Keys::new("", "routing").key(&["x"]), "routing:x");
    }
}
