//! Agents' profiles (Postgres) and presence (Redis, kept alive by heartbeats).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use platform::kv::Redis;
use redis::AsyncCommands;
use sqlx::PgPool;
use sqlx::types::Json;
use uuid::Uuid;

use crate::domain::agent::{AgentProfile, WorkingHours};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AgentRow {
    pub id: Uuid,
    pub display_name: String,
    pub tier: String,
    pub skills: Vec<String>,
    pub languages: Vec<String>,
    pub capacity: Json<BTreeMap<String, u16>>,
    pub time_zone: String,
    pub working_hours: Json<Vec<WorkingHours>>,
    pub supervisor_id: Option<Uuid>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, display_name, tier, skills, languages, capacity, time_zone, working_hours, supervisor_id, \
                       active, created_at, updated_at";

/// Inserts or replaces an agent; true when new.
pub async fn upsert(pool: &PgPool, id: Uuid, p: &AgentProfile) -> Result<(AgentRow, bool), sqlx::Error> {
    let row: AgentRow = sqlx::query_as(&format!(
        "INSERT INTO agent (id, display_name, tier, skills, languages, capacity, time_zone, working_hours, \
                            supervisor_id, active) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (id) DO UPDATE SET display_name = EXCLUDED.display_name, tier = EXCLUDED.tier, \
            skills = EXCLUDED.skills, languages = EXCLUDED.languages, capacity = EXCLUDED.capacity, \
            time_zone = EXCLUDED.time_zone, working_hours = EXCLUDED.working_hours, \
            supervisor_id = EXCLUDED.supervisor_id, active = EXCLUDED.active, updated_at = now() \
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(&p.display_name)
    .bind(&p.tier)
    .bind(&p.skills)
    .bind(&p.languages)
    .bind(Json(&p.capacity))
    .bind(p.time_zone.as_deref().unwrap_or("Asia/Shanghai"))
    .bind(Json(&p.working_hours))
    .bind(p.supervisor_id)
    .bind(p.active.unwrap_or(true))
    .fetch_one(pool)
    .await?;
    let created = row.created_at == row.updated_at;
    Ok((row, created))
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<AgentRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM agent WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn list(pool: &PgPool, tier: Option<&str>, limit: i64) -> Result<Vec<AgentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM agent WHERE ($1::text IS NULL OR tier = $1) ORDER BY display_name, id LIMIT $2"
    ))
    .bind(tier)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The key holding an agent's live status (expires when heartbeats stop).
pub fn live_key(keys: &platform::kv::Keys, agent: Uuid) -> String {
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

    fn live_key(&self, agent: Uuid) -> String {
        live_key(&self.redis.keys, agent)
    }

    fn chosen_key(&self, agent: Uuid) -> String {
        self.redis.keys.key(&["presence", "chosen", &agent.to_string()])
    }

    /// Adds to `pipe` the agent's entry in the online list: listed until their live status
    /// expires while `status` is online, taken out otherwise.
    fn list(&self, pipe: &mut redis::Pipeline, agent: Uuid, status: &str) {
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
    pub async fn set(&self, agent: Uuid, status: &str) -> redis::RedisResult<()> {
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
    pub async fn heartbeat(&self, agent: Uuid) -> redis::RedisResult<bool> {
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
    pub async fn get(&self, agent: Uuid) -> redis::RedisResult<String> {
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

/// Active agents, for matching.
pub async fn list_active(pool: &PgPool) -> Result<Vec<AgentRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM agent WHERE active ORDER BY id"))
        .fetch_all(pool)
        .await
}
