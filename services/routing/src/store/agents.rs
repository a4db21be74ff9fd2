//! Agents' profiles.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use contracts::AgentId;
use sqlx::PgPool;
use sqlx::types::Json;

use crate::domain::agent::{AgentProfile, WorkingHours};

/// An agent's profile as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AgentRow {
    pub id: AgentId,
    pub display_name: String,
    pub tier: String,
    pub skills: Vec<String>,
    pub languages: Vec<String>,
    pub capacity: Json<BTreeMap<String, u16>>,
    pub time_zone: String,
    pub working_hours: Json<Vec<WorkingHours>>,
    pub supervisor_id: Option<AgentId>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, display_name, tier, skills, languages, capacity, time_zone, working_hours, supervisor_id, \
                       active, created_at, updated_at";

/// Inserts or replaces an agent; true when new.
pub async fn upsert(pool: &PgPool, id: AgentId, p: &AgentProfile) -> Result<(AgentRow, bool), sqlx::Error> {
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

pub async fn get(pool: &PgPool, id: AgentId) -> Result<Option<AgentRow>, sqlx::Error> {
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

/// Active agents, for matching.
pub async fn list_active(pool: &PgPool) -> Result<Vec<AgentRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM agent WHERE active ORDER BY id"))
        .fetch_all(pool)
        .await
}
