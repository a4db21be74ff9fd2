//! Queues as data, and the agents, cached in memory for matching (refreshed every few seconds
//! and at once after a change through this replica).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use contracts::AgentId;
use futures_util::future::BoxFuture;
use platform::cache::Reloading;
use sqlx::PgPool;

use crate::domain::matching::{self, Requirement};
use crate::domain::sla::Policy;
use crate::store::agents::{self, AgentRow};
use crate::store::queues::{self, QueueDef};
use crate::store::sla;

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
}

/// The in-memory copy of queues, agents and policies. Cheap to clone.
#[derive(Clone)]
pub struct Catalog {
    cache: Reloading<Snapshot, sqlx::Error>,
}

impl Catalog {
    pub fn new(pool: PgPool, ttl: Duration) -> Self {
        let cache = Reloading::new(ttl, move |_| {
            let pool = pool.clone();
            Box::pin(async move {
                let queues = queues::list_queues(&pool).await?;
                let agents = agents::list_active(&pool).await?;
                let policies = sla::list_policies(&pool).await?;
                Ok(Arc::new(Snapshot {
                    queues,
                    agents,
                    policies,
                }))
            }) as BoxFuture<'static, Result<Arc<Snapshot>, sqlx::Error>>
        });
        Self { cache }
    }

    /// The copy as it is, without a freshness check (empty before the first load).
    fn current(&self) -> Arc<Snapshot> {
        self.cache.cached().unwrap_or_default()
    }

    /// Reloads from Postgres now.
    pub async fn refresh(&self) -> Result<(), sqlx::Error> {
        self.cache.reload().await.map(|_| ())
    }

    /// Makes sure the copy is current enough: one older than its time to live is reloaded by
    /// one caller while the others go on with it; one never loaded or invalidated (a change made
    /// here) is waited for, so this replica sees its own changes at once. A failed reload keeps
    /// the last copy.
    pub async fn fresh(&self) -> Result<(), sqlx::Error> {
        self.cache.get().await.map(|_| ())
    }

    /// Forces the next [`Catalog::fresh`] to reload; until then readers keep the current copy
    /// (never an empty one).
    pub fn invalidate(&self) {
        self.cache.invalidate();
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

    pub fn agent(&self, id: AgentId) -> Option<AgentRow> {
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
