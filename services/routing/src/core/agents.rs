//! Agents' profiles and presence: a change takes effect on this replica at once (the live
//! capacity, the catalog and the dispatcher's copy of agents' states follow it).

use contracts::AgentId;
use platform::ApiError;

use crate::adapters::live::Presence;
use crate::core::router::Router;
use crate::domain::agent::AgentProfile;
use crate::store::agents::{self, AgentRow};

impl Router {
    /// Creates or replaces an agent; true when new.
    pub async fn upsert_agent(&self, id: AgentId, profile: &AgentProfile) -> Result<(AgentRow, bool), ApiError> {
        let (row, created) = agents::upsert(self.pool(), id, profile).await?;
        self.live().set_capacity(id, &row.capacity.0).await?;
        self.catalog().invalidate();
        self.forget_agents();
        self.wake();
        Ok((row, created))
    }

    /// Sets an agent's presence (`online`, `away`, `offline`).
    pub async fn set_presence(&self, presence: &Presence, id: AgentId, status: &str) -> Result<(), ApiError> {
        agents::get(self.pool(), id)
            .await?
            .ok_or_else(|| ApiError::not_found("agent"))?;
        presence.set(id, status).await.map_err(ApiError::internal)?;
        // Coming online frees offers for them; going away returns theirs to the queue.
        self.forget_agents();
        self.wake();
        Ok(())
    }
}
