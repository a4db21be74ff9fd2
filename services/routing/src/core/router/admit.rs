//! Tickets entering routing, waiting again and leaving it, as intake's events report them.

use chrono::{DateTime, Utc};
use contracts::intake::{TicketCreatedV1, TicketStatusChangedV1};
use contracts::vocabulary::TicketStatus;
use contracts::{AgentId, TicketId};
use platform::Tx;

use super::{Router, live_ticket, standing};
use crate::adapters::live::Room;
use crate::core::catalog::TicketFacts;
use crate::core::sla::Clocks;
use crate::domain::entry::EntryStatus;
use crate::domain::queue;
use crate::events;
use crate::store::assignments::{self, Open};
use crate::store::entries::{self, IntakeOrder, Move, QueueEntryRow};

impl Router {
    /// Intake changed a ticket's status: re-queued, recorded as assigned, clocks paused or
    /// resumed, released when resolved, closed or cancelled. `seq` is the event's place among
    /// intake's events about the ticket: an event not newer than the last applied is skipped
    /// (its number and its effect commit together), one about a ticket routing does not know
    /// yet is not applied (`Unknown`: the caller retries it, its `created` may still be on its
    /// way).
    pub async fn status_changed(
        &self,
        tx: &mut Tx,
        changed: &TicketStatusChangedV1,
        seq: Option<i64>,
    ) -> anyhow::Result<IntakeOrder> {
        let id = changed.ticket_id;
        match entries::intake_order(tx, id, seq).await? {
            IntakeOrder::Apply => {}
            skipped => return Ok(skipped),
        }
        let sla = &self.inner.sla;
        let now = changed.changed_at.min(self.now());
        if changed.from == TicketStatus::WaitingOnCustomer && changed.to != TicketStatus::WaitingOnCustomer {
            sla.resume(tx, id, now).await?;
        }
        match changed.to {
            TicketStatus::Queued => self.requeue(tx, id).await?,
            TicketStatus::Assigned | TicketStatus::InProgress => {
                self.assigned_elsewhere(tx, id, changed.assignee_id).await?;
            }
            TicketStatus::WaitingOnCustomer => sla.pause(tx, id, now).await?,
            TicketStatus::Resolved => {
                sla.fulfil(tx, id, "resolution", now).await?;
                self.release(tx, id, "resolved").await?;
            }
            to @ (TicketStatus::Closed | TicketStatus::Cancelled) => self.release(tx, id, to.as_str()).await?,
            TicketStatus::New | TicketStatus::AutoAnswered => {}
        }
        Ok(IntakeOrder::Apply)
    }

    /// An agent's public reply: the first-response clock stops and the next-update clock starts
    /// again. False when routing does not know the ticket yet (nothing done; the caller retries).
    pub async fn agent_replied(&self, tx: &mut Tx, ticket: TicketId, now: DateTime<Utc>) -> anyhow::Result<bool> {
        let Some(entry) = entries::entry(&mut **tx, ticket).await? else {
            return Ok(false);
        };
        let sla = &self.inner.sla;
        sla.fulfil(tx, ticket, "first_response", now).await?;
        sla.fulfil(tx, ticket, "next_update", now).await?;
        if entry.status != EntryStatus::Closed {
            self.inner.catalog.fresh().await?;
            sla.start(tx, &entry, &self.inner.catalog.policies(), now, Clocks::NextUpdate)
                .await?;
        }
        Ok(true)
    }

    /// A new ticket from intake: recorded (with `seq`, the created event's place among intake's
    /// events about it), its clocks started, put in its live queue (or held when the knowledge
    /// base answered it).
    pub async fn admit(&self, tx: &mut Tx, created: &TicketCreatedV1, seq: Option<i64>) -> anyhow::Result<()> {
        let s = &self.inner.settings;
        self.inner.catalog.fresh().await?;
        let (queue, req) = self.inner.catalog.place(
            &TicketFacts {
                category: created.category.as_deref(),
                channel: created.channel.as_str(),
                high_emotion: created.details.high_emotion,
                fault_type: created.details.fault_type.as_deref(),
                language: created.language.as_deref(),
            },
            &s.default_queue,
            &s.senior_queue,
        );
        let held = created.details.status == Some(TicketStatus::AutoAnswered);
        let now = self.now();
        let mut entry = QueueEntryRow {
            ticket_id: created.ticket_id,
            customer_id: created.customer_id,
            queue,
            channel: created.channel.as_str().to_owned(),
            priority: created.priority.as_str().to_owned(),
            category: created.category.clone(),
            status: if held { EntryStatus::Held } else { EntryStatus::Waiting },
            score: 0.0,
            enqueued_at: now,
            high_emotion: created.details.high_emotion,
            tier: req.tier,
            skill: req.skill,
            language: req.language,
            segments: created.details.customer_segments.clone(),
            agent_id: None,
            offer_expires_at: None,
            escalations: 0,
            version: 0,
            intake_seq: seq,
        };
        entry.score = queue::score(now, created.priority, standing(&entry, false), &self.inner.boosts);
        // Numbered in the insert with the entry's first version.
        let event = (!held)
            .then(|| self.inner.outbox.prepare(events::queued(&entry)))
            .transpose()?;
        let Some(entry) = entries::insert_entry(tx, &entry, event.as_ref()).await? else {
            return Ok(());
        };
        if held {
            tracing::info!(ticket_id = %entry.ticket_id, "ticket held: answered from the knowledge base");
            return Ok(());
        }
        self.waits(tx, &entry, now).await
    }

    /// An entry that now waits: event (numbered with the entry's version), clocks, live queue.
    async fn queued(&self, tx: &mut Tx, entry: &QueueEntryRow, now: DateTime<Utc>) -> anyhow::Result<()> {
        self.inner
            .outbox
            .stage_sequenced(tx, events::queued(entry), entry.version)
            .await?;
        self.waits(tx, entry, now).await
    }

    /// An entry whose event is staged starts waiting: clocks, live queue.
    async fn waits(&self, tx: &mut Tx, entry: &QueueEntryRow, now: DateTime<Utc>) -> anyhow::Result<()> {
        self.inner
            .sla
            .start(tx, entry, &self.inner.catalog.policies(), now, Clocks::Waiting)
            .await?;
        // Idempotent (ZADD NX): a redelivery adds nothing; a rebuild corrects any leftover.
        self.inner.live.enqueue(&live_ticket(entry)).await?;
        tracing::info!(ticket_id = %entry.ticket_id, queue = %entry.queue, tier = %entry.tier, "ticket queued");
        Ok(())
    }

    /// A held or finished ticket waits again (not solved by its automatic answer, reopened).
    pub async fn requeue(&self, tx: &mut Tx, ticket: TicketId) -> anyhow::Result<()> {
        let now = self.now();
        let Some(before) = entries::entry_for_update(tx, ticket).await? else {
            tracing::warn!(ticket_id = %ticket, "re-queued ticket routing never saw; ignored");
            return Ok(());
        };
        if matches!(before.status, EntryStatus::Waiting | EntryStatus::Offered) {
            return Ok(());
        }
        if let Some(agent) = before.agent_id {
            self.inner
                .live
                .release(ticket, &before.queue, &before.channel, now.timestamp_millis())
                .await?;
            assignments::release(tx, ticket, now).await?;
            tracing::info!(ticket_id = %ticket, agent_id = %agent, "ticket back to the queue; agent freed");
        }
        let score = queue::score(
            now,
            events::priority(&before.priority),
            standing(&before, false),
            &self.inner.boosts,
        );
        let mut m = Move::new(
            ticket,
            &[EntryStatus::Held, EntryStatus::Assigned, EntryStatus::Closed],
            EntryStatus::Waiting,
            "queued",
            now,
        );
        m.score = Some(score);
        m.enqueued_at = Some(now);
        let Some(entry) = entries::apply(tx, &m).await? else {
            return Ok(());
        };
        self.inner.catalog.fresh().await?;
        self.queued(tx, &entry, now).await
    }

    /// A ticket is finished with (resolved, closed, cancelled): out of the queues, its agent freed.
    pub async fn release(&self, tx: &mut Tx, ticket: TicketId, kind: &str) -> anyhow::Result<()> {
        let Some(before) = entries::entry_for_update(tx, ticket).await? else {
            return Ok(());
        };
        if before.status == EntryStatus::Closed {
            return Ok(());
        }
        let now = self.now();
        let m = Move {
            detail: serde_json::json!({"agent_id": before.agent_id}),
            ..Move::new(
                ticket,
                &[
                    EntryStatus::Held,
                    EntryStatus::Waiting,
                    EntryStatus::Offered,
                    EntryStatus::Assigned,
                ],
                EntryStatus::Closed,
                kind,
                now,
            )
        };
        entries::apply(tx, &m).await?;
        assignments::release(tx, ticket, now).await?;
        self.inner.sla.stop_all(tx, ticket, kind, now).await?;
        self.inner
            .live
            .release(ticket, &before.queue, &before.channel, now.timestamp_millis())
            .await?;
        self.forget_agents();
        self.wake();
        Ok(())
    }

    /// Intake says an agent has the ticket: recorded when routing did not give it to them
    /// (a supervisor assigned it, or an agent started it), whatever their capacity.
    pub async fn assigned_elsewhere(
        &self,
        tx: &mut Tx,
        ticket: TicketId,
        agent: Option<AgentId>,
    ) -> anyhow::Result<()> {
        let Some(before) = entries::entry_for_update(tx, ticket).await? else {
            return Ok(());
        };
        if before.status == EntryStatus::Closed
            || (before.status == EntryStatus::Assigned && (agent.is_none() || before.agent_id == agent))
        {
            return Ok(());
        }
        let now = self.now();
        match agent {
            Some(agent) => {
                self.inner
                    .live
                    .assign_to(
                        ticket,
                        &before.queue,
                        &before.channel,
                        agent,
                        Room::Unchecked,
                        None,
                        now.timestamp_millis(),
                    )
                    .await?;
                let mut m = Move::new(
                    ticket,
                    &[
                        EntryStatus::Held,
                        EntryStatus::Waiting,
                        EntryStatus::Offered,
                        EntryStatus::Assigned,
                    ],
                    EntryStatus::Assigned,
                    "assigned",
                    now,
                );
                m.agent = Some(agent);
                m.detail = serde_json::json!({"how": "manual", "from_agent_id": before.agent_id});
                entries::apply(tx, &m).await?;
                assignments::open(tx, ticket, agent, &before.channel, "manual", Open::Replacing, now).await?;
            }
            None => {
                self.inner
                    .live
                    .release(ticket, &before.queue, &before.channel, now.timestamp_millis())
                    .await?;
                entries::apply(
                    tx,
                    &Move::new(
                        ticket,
                        &[EntryStatus::Held, EntryStatus::Waiting, EntryStatus::Offered],
                        EntryStatus::Assigned,
                        "assigned",
                        now,
                    ),
                )
                .await?;
            }
        }
        Ok(())
    }
}
