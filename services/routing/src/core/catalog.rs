//! Queues as data, and the agents, cached in memory for matching (refreshed every few seconds
//! and at once after a change through this replica).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::agents::{self, AgentRow};
use crate::domain::matching::{self, Requirement};
use crate::domain::sla::Policy;

#[derive(Debug, Clone, sqlx::FromRow, Serialize, Deserialize, ToSchema)]
pub struct QueueDef {
    pub name: String,
    pub description: String,
    /// Ticket categories it takes.
    pub categories: Vec<String>,
    /// Channels it takes (empty: all).
    pub channels: Vec<String>,
    /// The tier its tickets need: `junior`, `mid` or `senior`.
    pub tier: String,
    /// The skill an agent needs (none: any agent of the tier).
    pub skill: Option<String>,
    /// Higher wins when several queues take a ticket.
    pub precedence: i32,
    /// Offered to agents (push); false: agents take its tickets with "next" (pull).
    pub push: bool,
    /// With `push`: its tickets are given straight to the chosen agent (assigned, no offer to
    /// accept or decline).
    pub auto_accept: bool,
    pub active: bool,
    pub updated_at: DateTime<Utc>,
}

const QUEUE_COLUMNS: &str =
    "name, description, categories, channels, tier, skill, precedence, push, auto_accept, active, updated_at";

pub async fn list_queues(pool: &PgPool) -> Result<Vec<QueueDef>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {QUEUE_COLUMNS} FROM queue_def ORDER BY name"))
        .fetch_all(pool)
        .await
}

/// Inserts or replaces a queue; true when new.
pub async fn upsert_queue(pool: &PgPool, q: &QueueDef) -> Result<(QueueDef, bool), sqlx::Error> {
    let (row, created): (QueueDef, bool) = {
        let row: QueueDef = sqlx::query_as(&format!(
            "INSERT INTO queue_def (name, description, categories, channels, tier, skill, precedence, push, auto_accept, active) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description, categories = EXCLUDED.categories, \
                channels = EXCLUDED.channels, tier = EXCLUDED.tier, skill = EXCLUDED.skill, \
                precedence = EXCLUDED.precedence, push = EXCLUDED.push, auto_accept = EXCLUDED.auto_accept, \
                active = EXCLUDED.active, updated_at = now() \
             RETURNING {QUEUE_COLUMNS}"
        ))
        .bind(&q.name)
        .bind(&q.description)
        .bind(&q.categories)
        .bind(&q.channels)
        .bind(&q.tier)
        .bind(&q.skill)
        .bind(q.precedence)
        .bind(q.push)
        .bind(q.auto_accept)
        .bind(q.active)
        .fetch_one(pool)
        .await?;
        let created: bool = sqlx::query_scalar("SELECT created_at = updated_at FROM queue_def WHERE name = $1")
            .bind(&q.name)
            .fetch_one(pool)
            .await?;
        (row, created)
    };
    Ok((row, created))
}

/// What routing knows about a new ticket, to place it.
pub struct TicketFacts<'a> {
    pub category: Option<&'a str>,
    pub channel: &'a str,
    pub high_emotion: bool,
    pub fault_type: Option<&'a str>,
    pub language: Option<&'a str>,
}

#[derive(Default)]
struct Snapshot {
    queues: Vec<QueueDef>,
    agents: Vec<AgentRow>,
    policies: Vec<Policy>,
    loaded: Option<Instant>,
}

/// The in-memory copy of queues and agents. Cheap to clone.
#[derive(Clone)]
pub struct Catalog {
    pool: PgPool,
    ttl: Duration,
    snapshot: Arc<RwLock<Arc<Snapshot>>>,
    /// Held by the one caller reloading, so concurrent requests do not all read the tables.
    reloading: Arc<tokio::sync::Mutex<()>>,
    /// Bumped by [`Catalog::invalidate`]: a reload that began before a change does not count
    /// as current.
    changes: Arc<std::sync::atomic::AtomicU64>,
}

impl Catalog {
    pub fn new(pool: PgPool, ttl: Duration) -> Self {
        Self {
            pool,
            ttl,
            snapshot: Arc::new(RwLock::new(Arc::new(Snapshot::default()))),
            reloading: Arc::default(),
            changes: Arc::default(),
        }
    }

    fn current(&self) -> Arc<Snapshot> {
        self.snapshot.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Reloads from Postgres.
    pub async fn refresh(&self) -> Result<(), sqlx::Error> {
        let began = Instant::now();
        let changes = self.changes.load(Ordering::SeqCst);
        let queues = list_queues(&self.pool).await?;
        let agents = agents::list_active(&self.pool).await?;
        let policies = crate::sla::list_policies(&self.pool).await?;
        let snap = Arc::new(Snapshot {
            queues,
            agents,
            policies,
            // Changed while it read: it may have missed that, so the next use reads again.
            loaded: (self.changes.load(Ordering::SeqCst) == changes).then_some(began),
        });
        if let Ok(mut s) = self.snapshot.write() {
            *s = snap;
        }
        Ok(())
    }

    /// Makes sure the copy is current enough: one older than its time to live is reloaded by
    /// one caller while the others go on with it; one never loaded or invalidated (a change made
    /// here) is waited for, so this replica sees its own changes at once.
    pub async fn fresh(&self) -> Result<(), sqlx::Error> {
        match self.current().loaded {
            Some(t) if t.elapsed() < self.ttl => Ok(()),
            Some(_) => match self.reloading.try_lock() {
                Ok(_one) => self.refresh().await,
                Err(_) => Ok(()),
            },
            None => {
                let asked = Instant::now();
                let _one = self.reloading.lock().await;
                // A reload that began after this call reads what was changed before it.
                if self.current().loaded.is_some_and(|began| began > asked) {
                    Ok(())
                } else {
                    self.refresh().await
                }
            }
        }
    }

    /// Forces the next [`Catalog::fresh`] to reload; until then readers keep the current copy
    /// (never an empty one).
    pub fn invalidate(&self) {
        self.changes.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut s) = self.snapshot.write() {
            *s = Arc::new(Snapshot {
                queues: s.queues.clone(),
                agents: s.agents.clone(),
                policies: s.policies.clone(),
                loaded: None,
            });
        }
    }

    pub fn queues(&self) -> Vec<QueueDef> {
        self.current().queues.iter().filter(|q| q.active).cloned().collect()
    }

    pub fn policies(&self) -> Vec<Policy> {
        self.current().policies.clone()
    }

    pub fn agents(&self) -> Vec<AgentRow> {
        self.current().agents.clone()
    }

    pub fn agent(&self, id: uuid::Uuid) -> Option<AgentRow> {
        self.current().agents.iter().find(|a| a.id == id).cloned()
    }

    /// The queue a ticket waits in and what it needs: high-emotion tickets go to the senior
    /// queue; else the active queue of highest precedence taking its category and channel; else
    /// the default queue.
    pub fn place(&self, t: &TicketFacts<'_>, default_queue: &str, senior_queue: &str) -> (String, Requirement) {
        let snap = self.current();
        let active = || snap.queues.iter().filter(|q| q.active);
        let by_name = |name: &str| active().find(|q| q.name == name);
        let chosen = if t.high_emotion {
            by_name(senior_queue)
        } else {
            t.category.and_then(|c| {
                active()
                    .filter(|q| q.categories.iter().any(|x| x == c))
                    .filter(|q| q.channels.is_empty() || q.channels.iter().any(|x| x == t.channel))
                    .max_by_key(|q| q.precedence)
            })
        }
        .or_else(|| by_name(default_queue));
        let queue = chosen.map_or_else(
            || if t.high_emotion { senior_queue } else { default_queue }.to_owned(),
            |q| q.name.clone(),
        );
        let mut tier = chosen.map_or("junior", |q| q.tier.as_str()).to_owned();
        // Complaints and high emotion need seniors whatever the queue says.
        if t.high_emotion || t.category == Some("complaint") {
            tier = "senior".to_owned();
        }
        let mut skill = chosen.and_then(|q| q.skill.clone());
        if let (Some("technical"), Some(fault)) = (skill.as_deref(), t.fault_type) {
            skill = Some(format!("technical.{fault}"));
        }
        let requirement = Requirement {
            tier,
            skill,
            language: t.language.map(str::to_owned),
            channel: t.channel.to_owned(),
        };
        (queue, requirement)
    }

    /// Names of the active queues whose tickets are offered (push).
    pub fn push_queues(&self) -> Vec<String> {
        self.current()
            .queues
            .iter()
            .filter(|q| q.active && q.push)
            .map(|q| q.name.clone())
            .collect()
    }

    /// Names of the active push queues whose tickets are assigned without an offer.
    pub fn auto_accept_queues(&self) -> Vec<String> {
        self.current()
            .queues
            .iter()
            .filter(|q| q.active && q.push && q.auto_accept)
            .map(|q| q.name.clone())
            .collect()
    }

    /// Names of the active queues.
    pub fn queue_names(&self) -> Vec<String> {
        self.current()
            .queues
            .iter()
            .filter(|q| q.active)
            .map(|q| q.name.clone())
            .collect()
    }
}

/// An agent as matching sees them, with their live figures.
pub fn candidate(a: &AgentRow, load: BTreeMap<String, u16>, idle_since_ms: i64) -> matching::Candidate {
    matching::Candidate {
        id: a.id,
        tier: a.tier.clone(),
        skills: a.skills.clone(),
        languages: a.languages.clone(),
        capacity: a.capacity.0.clone(),
        load,
        idle_since_ms,
    }
}
