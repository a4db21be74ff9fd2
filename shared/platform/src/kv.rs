//! Redis: a self-reconnecting connection and the key naming rule.

use redis::aio::ConnectionManager;
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
        let conn = ConnectionManager::new(client).await?;
        Ok(Self {
            conn,
            keys: Keys::new(&settings.key_prefix, service),
        })
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
