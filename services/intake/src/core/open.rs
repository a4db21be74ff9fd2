//! Opening a ticket, whatever the channel: classification, duplicate merging across channels,
//! an answer from the knowledge base when one fits, and grouping of outages into incidents —
//! all in the caller's transaction, with the events staged in the outbox. The windows it looks
//! back over and the times it stamps come from the service's clock; `intake.ticket.created` is
//! the ticket's event 1 (`subjectseq`), anything else published about it on opening follows.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use contracts::{IncidentId, TicketId};
use platform::batch::{Batcher, one_by_one_on_failure};
use platform::bus::outbox::{Prepared, PreparedColumns};
use platform::jobs::NewJob;
use platform::{ApiError, Platform, Tx};
use serde::Deserialize;
use uuid::Uuid;

use crate::adapters::rate_limit::CreateLimit;
use crate::core::kb_index::{Article, KbIndex};
use crate::core::lifecycle::{ANSWER_TIMEOUT_JOB, Lifecycle};
use crate::domain::classify::{Classifier, Input};
use crate::domain::kb;
use crate::domain::lifecycle::Status;
use crate::domain::ticket::{self, ContextWindows, ValidTicket};
use crate::settings::IntakeSettings;
use crate::store::{self, ContextQuery, NewMessage, NewTicketRow, OpenContext, TicketExtras, TicketRow};

/// What opening a ticket came to.
#[derive(Debug)]
pub enum Opened {
    Created(TicketRow),
    /// The same question from the same customer on another channel, added to their open ticket.
    Merged(TicketRow),
}

/// What opening a ticket will do, decided from one read (see [`Opener::plan`]).
pub enum OpenPlan {
    /// The same question from the same customer on another channel: added to this ticket.
    Merge {
        into: TicketId,
    },
    New(Box<BuiltTicket>),
}

/// A new ticket, built whole, and the article that answers it, if one does.
pub struct BuiltTicket {
    pub row: TicketRow,
    answer: Option<(Article, kb::Match)>,
}

impl BuiltTicket {
    /// More than its own row and event: an answer to post, or an incident to look for (a
    /// technical ticket no open incident took).
    fn needs_transaction(&self) -> bool {
        self.answer.is_some() || (self.row.fault_type.is_some() && self.row.incident_id.is_none())
    }
}

/// Writes plain new tickets (row and `intake.ticket.created`) of concurrent requests together.
pub type TicketWriter = Batcher<(TicketRow, Prepared), TicketRow, ApiError>;

async fn write_tickets(
    pool: &sqlx::PgPool,
    items: &[(TicketRow, Prepared)],
    now: DateTime<Utc>,
) -> Result<Vec<()>, ApiError> {
    let rows: Vec<NewTicketRow> = items
        .iter()
        .map(|(row, _)| NewTicketRow { row, source_ref: None })
        .collect();
    store::insert_tickets(pool, &rows, items.iter().map(|(_, e)| e.clone()).collect(), now).await?;
    Ok(vec![(); items.len()])
}

/// Everything opening a ticket uses.
#[derive(Clone)]
pub struct Opener {
    pub platform: Platform,
    pub settings: Arc<IntakeSettings>,
    pub classifier: Arc<Classifier>,
    pub lifecycle: Lifecycle,
    pub limit: CreateLimit,
    pub writer: TicketWriter,
    pub reader: ContextReader,
    pub kb: KbIndex,
}

/// Reads what opening tickets needs for concurrent requests in one query.
pub type ContextReader = Batcher<ContextQuery, OpenContext, ApiError>;

/// Starts the reader [`Opener::plan`] uses outside a transaction: up to `max` contexts per
/// query, one query at a time (requests arriving meanwhile wait for the next).
pub fn context_reader(platform: &Platform, windows: ContextWindows, max: usize) -> ContextReader {
    let (pool, clock) = (platform.pool.clone(), platform.clock.clone());
    Batcher::spawn(max, 1, move |queries: Vec<ContextQuery>| {
        let (pool, now) = (pool.clone(), clock.now());
        async move {
            let failure = match store::open_contexts(&pool, &queries, &windows, now).await {
                Ok(contexts) if contexts.len() == queries.len() => return contexts.into_iter().map(Ok).collect(),
                Ok(contexts) => format!("{} contexts read for {} tickets", contexts.len(), queries.len()),
                Err(e) => e.to_string(),
            };
            let failed = || ApiError::internal(anyhow::anyhow!("reading the new tickets' context: {failure}"));
            queries.iter().map(|_| Err(failed())).collect()
        }
    })
}

/// Starts the writer [`Opener::open_alone`] hands plain new tickets to: up to `max` tickets and
/// their events per statement, one statement at a time; when a statement fails, its tickets
/// are written one by one so each gets its own answer.
pub fn ticket_writer(platform: &Platform, max: usize) -> TicketWriter {
    let (pool, outbox, clock) = (platform.pool.clone(), platform.outbox.clone(), platform.clock.clone());
    Batcher::spawn(max, 1, move |items: Vec<(TicketRow, Prepared)>| {
        let (pool, outbox, now) = (pool.clone(), outbox.clone(), clock.now());
        async move {
            let written = one_by_one_on_failure(&items, |batch| write_tickets(&pool, batch, now)).await;
            let results = written
                .into_iter()
                .zip(items)
                .map(|(written, (row, _))| written.map(|()| row))
                .collect();
            outbox.wake();
            results
        }
    })
}

#[derive(Deserialize)]
struct OpenIncident {
    id: IncidentId,
    fault_type: String,
    terms: Vec<String>,
}

#[derive(Deserialize)]
struct OpenTicket {
    id: TicketId,
    channel: String,
    keywords: Vec<String>,
}

impl Opener {
    /// Counts one create by `who` (a customer id or a sending address) against the limit;
    /// 429 with Retry-After past it.
    pub async fn rate_limit(&self, who: &str) -> Result<(), ApiError> {
        self.limit.check(who).await
    }

    /// Opens `t` (or merges it into the customer's open duplicate) in the caller's transaction.
    pub async fn open(
        &self,
        tx: &mut Tx,
        t: &ValidTicket,
        created_by: Uuid,
        source_ref: Option<&str>,
    ) -> Result<Opened, ApiError> {
        let plan = self.plan(Some(&mut *tx), t, created_by).await?;
        self.apply(tx, plan, t, source_ref).await
    }

    /// Opens `t` with no transaction of the caller's: a new ticket that needs nothing but its
    /// own row and event (no answer to post, no incident to look for: none, or an open one
    /// already found) goes to the shared writer, which writes the tickets of concurrent requests
    /// in one statement and one commit; anything else runs in a transaction of its own.
    /// `allowed` (the caller's rate limit) is checked while the context is read; nothing is
    /// written unless it passes.
    pub async fn open_alone(
        &self,
        t: &ValidTicket,
        created_by: Uuid,
        allowed: impl std::future::Future<Output = Result<(), ApiError>>,
    ) -> Result<Opened, ApiError> {
        let (allowed, plan) = tokio::join!(allowed, self.plan(None, t, created_by));
        allowed?;
        match plan? {
            OpenPlan::New(new) if !new.needs_transaction() => {
                let event = self
                    .platform
                    .outbox
                    .prepare_sequenced(crate::events::ticket_created(&new.row), new.row.version)?;
                self.writer.submit((new.row, event)).await.map(Opened::Created)
            }
            plan => {
                let mut tx = self.platform.pool.begin().await?;
                let opened = self.apply(&mut tx, plan, t, None).await?;
                self.platform.outbox.commit(tx).await?;
                Ok(opened)
            }
        }
    }

    /// Reads what opening `t` needs (one query, in `tx` or shared with concurrent requests) and
    /// decides: a merge into the customer's open duplicate, or a new ticket, built whole, with
    /// its answer if one fits.
    pub async fn plan(&self, tx: Option<&mut Tx>, t: &ValidTicket, created_by: Uuid) -> Result<OpenPlan, ApiError> {
        let s = &self.settings;
        let now = self.platform.clock.now();
        let text = format!("{}\n{}", t.subject, t.body);
        let terms = self.classifier.terms(&text);
        let language = self.classifier.language(&text).to_owned();
        let query = ContextQuery {
            customer_id: t.customer_id,
            terms: distinct(&terms),
        };
        let ctx = match tx {
            Some(tx) => store::open_contexts(&mut **tx, std::slice::from_ref(&query), &s.context_windows(), now)
                .await?
                .pop()
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no context read for the new ticket")))?,
            None => self.reader.submit(query).await?,
        };
        let c = self.classifier.classify_with_terms(
            Input {
                subject: &t.subject,
                body: &t.body,
                recent_contacts: u32::try_from(ctx.recent).unwrap_or(u32::MAX),
            },
            &terms,
        );

        // Tickets are compared by their keywords (stored, so nothing is segmented again).
        let open: Vec<OpenTicket> = serde_json::from_value(ctx.open).unwrap_or_default();
        for candidate in open.iter().filter(|o| o.channel != t.channel.as_str()) {
            if kb::jaccard(&c.keywords, &candidate.keywords) >= s.duplicate_min_similarity {
                return Ok(OpenPlan::Merge { into: candidate.id });
            }
        }

        let customer = ctx.role.map(|role| (role, ctx.segments.unwrap_or_default()));
        let priority = ticket::priority(t.requested_priority, c.priority);
        let answer = if c.category == "complaint" || c.high_emotion {
            None
        } else {
            self.kb.best(&language, &terms, s.auto_answer_min_confidence)
        };
        let fault_type = t
            .fault
            .as_ref()
            .and_then(|f| f.fault_type.clone())
            .or_else(|| c.fault_type.clone());
        let fault = if c.category == "technical" || t.fault.is_some() {
            let mut record = t.fault.clone().unwrap_or_default();
            if record.symptom.trim().is_empty() {
                record.symptom = t.subject.clone();
            }
            record.fault_type = fault_type.clone();
            Some(serde_json::to_value(record).map_err(ApiError::internal)?)
        } else {
            None
        };
        let resolve_by = s
            .resolution_target_hours
            .get(&c.category)
            .map(|h| now + chrono::Duration::hours(i64::from(*h)));
        // An open incident about the same fault takes the ticket at once; a ticket matching
        // none may still start one with other recent tickets (see `group_into_incident`).
        let incidents: Vec<OpenIncident> = serde_json::from_value(ctx.incidents).unwrap_or_default();
        let incident = fault_type.as_deref().and_then(|ft| {
            incidents
                .iter()
                .find(|i| i.fault_type == ft && kb::overlap(&c.keywords, &i.terms) >= s.incident_min_overlap)
                .map(|i| i.id)
        });
        let mut row = TicketRow::new(
            t,
            &c,
            &TicketExtras {
                status: if answer.is_some() {
                    Status::AutoAnswered
                } else {
                    Status::Queued
                },
                priority,
                created_by,
                customer: customer.as_ref(),
                fault,
                fault_type: fault_type.as_deref(),
                answer: answer.as_ref().map(|(a, m)| (a.id, m.confidence as f32)),
                resolve_by,
            },
            ctx.number,
            now,
        );
        row.incident_id = incident;
        Ok(OpenPlan::New(Box::new(BuiltTicket { row, answer })))
    }

    /// Carries out `plan` in `tx`: the merge, or the new ticket with its incident, its event
    /// (number 1) and then its answer (number 2).
    pub async fn apply(
        &self,
        tx: &mut Tx,
        plan: OpenPlan,
        t: &ValidTicket,
        source_ref: Option<&str>,
    ) -> Result<Opened, ApiError> {
        let BuiltTicket { mut row, answer } = match plan {
            OpenPlan::Merge { into } => return self.merge(tx, into, t, source_ref).await.map(Opened::Merged),
            OpenPlan::New(new) => *new,
        };
        let now = self.platform.clock.now();
        store::insert_tickets(
            &mut **tx,
            &[NewTicketRow { row: &row, source_ref }],
            PreparedColumns::default(),
            now,
        )
        .await?;
        if row.incident_id.is_none()
            && let Some(fault_type) = row.fault_type.clone()
            && let Some(incident) = self.group_into_incident(tx, &row, &fault_type, &row.keywords).await?
        {
            row.incident_id = Some(incident);
        }
        self.platform
            .outbox
            .stage_sequenced(tx, crate::events::ticket_created(&row), row.version)
            .await?;
        if let Some((article, m)) = &answer {
            row.version = self.send_answer(tx, &row, article, m).await?;
        }
        Ok(Opened::Created(row))
    }

    /// The customer's repeated question becomes a message on their open ticket.
    async fn merge(
        &self,
        tx: &mut Tx,
        into: TicketId,
        t: &ValidTicket,
        source_ref: Option<&str>,
    ) -> Result<TicketRow, ApiError> {
        let ticket = store::ticket_for_update(tx, into)
            .await?
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("open ticket {into} vanished")))?;
        let body = format!("{}\n\n{}", t.subject, t.body);
        let added = store::insert_message(
            tx,
            &NewMessage {
                ticket_id: ticket.id,
                author_id: t.customer_id.into(),
                author_role: "customer",
                visibility: "public",
                kind: "message",
                body: &body,
                channel: Some(t.channel.as_str()),
                external_id: source_ref,
            },
            self.platform.clock.now(),
        )
        .await?;
        self.platform
            .outbox
            .stage_sequenced(
                tx,
                crate::events::message_added(ticket.customer_id, &added.message, false),
                added.seq,
            )
            .await?;
        tracing::info!(ticket_id = %ticket.id, channel = t.channel.as_str(), "duplicate merged into the open ticket");
        Ok(ticket)
    }

    /// Posts the article as the system's answer and starts the wait for the customer's verdict;
    /// the ticket's version after it.
    async fn send_answer(
        &self,
        tx: &mut Tx,
        row: &TicketRow,
        article: &Article,
        m: &kb::Match,
    ) -> Result<i64, ApiError> {
        let now = self.platform.clock.now();
        // The index holds articles' words, not their text.
        let text = store::kb::body(tx, article.id).await?;
        let body = format!("{}\n\n{}", article.title, text);
        let added = store::insert_message(
            tx,
            &NewMessage {
                ticket_id: row.id,
                author_id: Uuid::nil(),
                author_role: "system",
                visibility: "public",
                kind: "message",
                body: &body,
                channel: None,
                external_id: None,
            },
            now,
        )
        .await?;
        self.platform
            .outbox
            .stage_sequenced(
                tx,
                crate::events::message_added(row.customer_id, &added.message, false),
                added.seq,
            )
            .await?;
        self.lifecycle
            .jobs
            .schedule(
                &mut **tx,
                NewJob {
                    kind: ANSWER_TIMEOUT_JOB,
                    dedupe_key: Some(&row.id.to_string()),
                    payload: &serde_json::json!({ "ticket_id": row.id }),
                    due_at: now + chrono::Duration::minutes(i64::from(self.settings.auto_answer_wait_minutes)),
                    max_attempts: None,
                },
            )
            .await?;
        tracing::info!(ticket_id = %row.id, article_id = %article.id, confidence = m.confidence, "answered from the knowledge base");
        Ok(added.seq)
    }

    /// Opens an incident when enough recent tickets report the same fault as this one, which
    /// no open incident matched (see [`Self::plan`]). Returns the incident.
    async fn group_into_incident(
        &self,
        tx: &mut Tx,
        row: &TicketRow,
        fault_type: &str,
        terms: &[String],
    ) -> Result<Option<IncidentId>, ApiError> {
        let s = &self.settings;
        let now = self.platform.clock.now();
        let similar: Vec<(TicketId, Vec<String>)> =
            store::incidents::unlinked_recent(tx, fault_type, s.incident_window_minutes, row.id, now)
                .await?
                .into_iter()
                .filter(|(_, theirs)| kb::overlap(terms, theirs) >= s.incident_min_overlap)
                .collect();
        if similar.len() + 1 < s.incident_min_tickets as usize {
            return Ok(None);
        }
        // The incident's words: those most of its tickets share.
        let mut counts: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for t in similar.iter().map(|(_, t)| t.as_slice()).chain(std::iter::once(terms)) {
            let mut seen: Vec<&str> = t.iter().map(String::as_str).collect();
            seen.sort_unstable();
            seen.dedup();
            for w in seen {
                *counts.entry(w).or_default() += 1;
            }
        }
        let mut shared: Vec<(&str, usize)> = counts.into_iter().filter(|(_, n)| *n >= 2).collect();
        shared.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let incident_terms: Vec<String> = shared.iter().take(20).map(|(w, _)| (*w).to_owned()).collect();
        let title = format!("{fault_type} fault: {}", row.subject);
        let id = store::incidents::insert(tx, fault_type, &title, &incident_terms, Uuid::nil(), now).await?;
        let mut ids: Vec<TicketId> = similar.iter().map(|(id, _)| *id).collect();
        ids.push(row.id);
        store::incidents::link(tx, id, &ids, now).await?;
        self.platform
            .outbox
            .stage(
                tx,
                crate::events::incident_opened(id, fault_type, &title, ids.clone(), now),
            )
            .await?;
        tracing::info!(incident_id = %id, tickets = ids.len(), fault_type, "incident opened");
        Ok(Some(id))
    }
}

/// The distinct words of a ticket (the first 64: a long mail does not make a huge query).
fn distinct(terms: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    terms
        .iter()
        .filter(|t| seen.insert(t.as_str()))
        .take(64)
        .cloned()
        .collect()
}
