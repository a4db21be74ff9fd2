//! Rebuilding the live state from Postgres: the lock replicas take turns with, the wipe, and
//! the bulk writes that restore loads, offers and holdings.

use redis::AsyncCommands;

use contracts::{AgentId, TicketId};

use super::{BULK, LiveQueues};

impl LiveQueues {
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
    pub async fn set_loads(&self, loads: &[(AgentId, String, u32)]) -> redis::RedisResult<()> {
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
    pub async fn restore_holdings(&self, held: &[(TicketId, AgentId, Option<i64>)]) -> redis::RedisResult<()> {
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
}
