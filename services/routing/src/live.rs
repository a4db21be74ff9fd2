//! The live queues in Redis: one sorted set per queue (`<prefix>:routing:queue:<name>`) and a
//! set of queue names (`<prefix>:routing:queues`).

use platform::kv::Redis;
use redis::AsyncCommands;
use uuid::Uuid;

#[derive(Clone)]
pub struct LiveQueues {
    redis: Redis,
}

/// A queue's live figures.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueStats {
    pub name: String,
    pub waiting: u64,
    /// Score of the head of the queue (ms since the epoch, adjusted by priority).
    pub head_score: Option<f64>,
}

impl LiveQueues {
    pub fn new(redis: Redis) -> Self {
        Self { redis }
    }

    fn queue_key(&self, queue: &str) -> String {
        self.redis.keys.key(&["queue", queue])
    }

    fn index_key(&self) -> String {
        self.redis.keys.key(&["queues"])
    }

    /// Adds a ticket (idempotent: re-adding keeps its first score).
    pub async fn enqueue(&self, queue: &str, ticket_id: Uuid, score: f64) -> redis::RedisResult<()> {
        let mut conn = self.redis.conn.clone();
        redis::pipe()
            .atomic()
            .cmd("ZADD")
            .arg(self.queue_key(queue))
            .arg("NX")
            .arg(score)
            .arg(ticket_id.to_string())
            .ignore()
            .sadd(self.index_key(), queue)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
    }

    /// Takes a ticket out of its queue (assigned, resolved, cancelled, held).
    pub async fn remove(&self, queue: &str, ticket_id: Uuid) -> redis::RedisResult<()> {
        let mut conn = self.redis.conn.clone();
        conn.zrem::<_, _, ()>(self.queue_key(queue), ticket_id.to_string())
            .await
    }

    /// Tickets waiting in `queue`, head first.
    pub async fn waiting(&self, queue: &str, limit: isize) -> redis::RedisResult<Vec<String>> {
        let mut conn = self.redis.conn.clone();
        conn.zrange(self.queue_key(queue), 0, limit - 1).await
    }

    pub async fn stats(&self) -> redis::RedisResult<Vec<QueueStats>> {
        let mut conn = self.redis.conn.clone();
        let mut names: Vec<String> = conn.smembers(self.index_key()).await?;
        names.sort();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let key = self.queue_key(&name);
            let waiting: u64 = conn.zcard(&key).await?;
            let head: Vec<(String, f64)> = conn.zrange_withscores(&key, 0, 0).await?;
            out.push(QueueStats {
                name,
                waiting,
                head_score: head.first().map(|(_, s)| *s),
            });
        }
        Ok(out)
    }
}
