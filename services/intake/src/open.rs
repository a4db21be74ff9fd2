//! Opening a ticket, whatever the channel: classification, duplicate merging across channels,
//! an answer from the knowledge base when one fits, and grouping of outages into incidents —
//! all in the caller's transaction, with the events staged in the outbox.

use std::sync::Arc;

use chrono::Utc;
use contracts::intake::IncidentOpenedV1;
use platform::jobs::NewJob;
use platform::{ApiError, Platform, Tx};
use serde::Deserialize;
use uuid::Uuid;

use crate::IntakeSettings;
use crate::domain::classify::{Classifier, Input};
use crate::domain::kb;
use crate::domain::lifecycle::Status;
use crate::domain::ticket::{self, ValidTicket};
use crate::lifecycle::{ANSWER_TIMEOUT_JOB, Lifecycle};
use crate::store::{self, NewMessage, TicketExtras, TicketRow};

/// What opening a ticket came to.
#[derive(Debug)]
pub enum Opened {
    Created(TicketRow),
    /// The same question from the same customer on another channel, added to their open ticket.
    Merged(TicketRow),
}

/// Everything opening a ticket uses.
#[derive(Clone)]
pub struct Opener {
    pub platform: Platform,
    pub settings: Arc<IntakeSettings>,
    pub classifier: Arc<Classifier>,
    pub lifecycle: Lifecycle,
}

/// A knowledge-base article that may answer a new ticket.
#[derive(Debug, Deserialize)]
pub struct Candidate {
    pub id: Uuid,
    pub title: String,
    pub body: String,
    pub terms: Vec<String>,
}

#[derive(Deserialize)]
struct OpenTicket {
    id: Uuid,
    channel: String,
    keywords: Vec<String>,
}

impl Opener {
    /// Counts one create by `who` (a customer id or a sending address) against the limit;
    /// 429 with Retry-After past it.
    pub async fn rate_limit(&self, who: &str) -> Result<(), ApiError> {
        let key = self.platform.redis.keys.key(&["ratelimit", "create", who]);
        match self
            .platform
            .redis
            .rate_limit(&key, self.settings.create_limit, self.settings.create_limit_window_secs)
            .await
        {
            Ok(None) => Ok(()),
            Ok(Some(retry_after)) => {
                tracing::info!(who, retry_after, "ticket creation rate-limited");
                Err(ApiError::too_many_requests(retry_after))
            }
            // Redis being away must not stop tickets coming in.
            Err(e) => {
                tracing::warn!(error = %e, "rate limit unavailable; letting the request through");
                Ok(())
            }
        }
    }

    /// Opens `t` (or merges it into the customer's open duplicate).
    pub async fn open(
        &self,
        tx: &mut Tx,
        t: &ValidTicket,
        created_by: Uuid,
        source_ref: Option<&str>,
    ) -> Result<Opened, ApiError> {
        let s = &self.settings;
        let text = format!("{}\n{}", t.subject, t.body);
        let terms = self.classifier.terms(&text);
        let language = self.classifier.language(&text);
        let ctx = store::open_context(
            tx,
            t.customer_id,
            s.repeat_contact_window_hours,
            s.duplicate_window_minutes,
            &search_terms(&terms),
            language,
        )
        .await?;
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
                return self.merge(tx, candidate.id, t, source_ref).await.map(Opened::Merged);
            }
        }

        let customer = ctx.role.map(|role| (role, ctx.segments.unwrap_or_default()));
        let priority = ticket::priority(t.requested_priority, c.priority);
        let answer = if c.category == "complaint" || c.high_emotion {
            None
        } else {
            let candidates: Vec<Candidate> = serde_json::from_value(ctx.articles).unwrap_or_default();
            self.best_answer(&terms, candidates)
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
            .map(|h| Utc::now() + chrono::Duration::hours(i64::from(*h)));
        let mut row = store::insert_ticket(
            tx,
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
                source_ref,
            },
        )
        .await?;

        if let Some((article, m)) = &answer {
            self.send_answer(tx, &row, article, m).await?;
        }
        if let Some(fault_type) = &fault_type
            && let Some(incident) = self.group_into_incident(tx, &row, fault_type, &c.keywords).await?
        {
            row.incident_id = Some(incident);
        }
        self.platform
            .outbox
            .stage(tx, crate::events::ticket_created(&row))
            .await?;
        Ok(Opened::Created(row))
    }

    /// The customer's repeated question becomes a message on their open ticket.
    async fn merge(
        &self,
        tx: &mut Tx,
        into: Uuid,
        t: &ValidTicket,
        source_ref: Option<&str>,
    ) -> Result<TicketRow, ApiError> {
        let ticket = store::ticket_for_update(tx, into)
            .await?
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("open ticket {into} vanished")))?;
        let body = format!("{}\n\n{}", t.subject, t.body);
        let message = store::insert_message(
            tx,
            &NewMessage {
                ticket_id: ticket.id,
                author_id: t.customer_id,
                author_role: "customer",
                visibility: "public",
                kind: "message",
                body: &body,
                channel: Some(t.channel.as_str()),
                external_id: source_ref,
            },
        )
        .await?;
        self.platform
            .outbox
            .stage(tx, crate::events::message_added(ticket.customer_id, &message, false))
            .await?;
        tracing::info!(ticket_id = %ticket.id, channel = t.channel.as_str(), "duplicate merged into the open ticket");
        Ok(ticket)
    }

    /// The candidate that answers the ticket with enough confidence, if any.
    fn best_answer(&self, terms: &[String], candidates: Vec<Candidate>) -> Option<(Candidate, kb::Match)> {
        candidates
            .into_iter()
            .map(|article| {
                let title_terms = self.classifier.terms(&article.title);
                let m = kb::score(terms, &title_terms, &article.terms);
                (article, m)
            })
            .filter(|(_, m)| m.confidence >= self.settings.auto_answer_min_confidence)
            .max_by(|a, b| a.1.confidence.total_cmp(&b.1.confidence))
    }

    /// Posts the article as the system's answer and starts the wait for the customer's verdict.
    async fn send_answer(
        &self,
        tx: &mut Tx,
        row: &TicketRow,
        article: &Candidate,
        m: &kb::Match,
    ) -> Result<(), ApiError> {
        let body = format!("{}\n\n{}", article.title, article.body);
        let message = store::insert_message(
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
        )
        .await?;
        self.platform
            .outbox
            .stage(tx, crate::events::message_added(row.customer_id, &message, false))
            .await?;
        self.lifecycle
            .jobs
            .schedule(
                &mut **tx,
                NewJob {
                    kind: ANSWER_TIMEOUT_JOB,
                    dedupe_key: Some(&row.id.to_string()),
                    payload: &serde_json::json!({ "ticket_id": row.id }),
                    due_at: Utc::now() + chrono::Duration::minutes(i64::from(self.settings.auto_answer_wait_minutes)),
                    max_attempts: None,
                },
            )
            .await?;
        tracing::info!(ticket_id = %row.id, article_id = %article.id, confidence = m.confidence, "answered from the knowledge base");
        Ok(())
    }

    /// Links the ticket to an open incident about the same fault, or opens one when enough
    /// recent tickets report it. Returns the incident.
    async fn group_into_incident(
        &self,
        tx: &mut Tx,
        row: &TicketRow,
        fault_type: &str,
        terms: &[String],
    ) -> Result<Option<Uuid>, ApiError> {
        let s = &self.settings;
        for incident in store::incidents::open_recent(tx, fault_type, s.incident_window_minutes).await? {
            if kb::overlap(terms, &incident.terms) >= s.incident_min_overlap {
                store::incidents::link(tx, incident.id, &[row.id]).await?;
                return Ok(Some(incident.id));
            }
        }
        let similar: Vec<(Uuid, Vec<String>)> =
            store::incidents::unlinked_recent(tx, fault_type, s.incident_window_minutes, row.id)
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
        let id = store::incidents::insert(tx, fault_type, &title, &incident_terms, Uuid::nil()).await?;
        let mut ids: Vec<Uuid> = similar.iter().map(|(id, _)| *id).collect();
        ids.push(row.id);
        store::incidents::link(tx, id, &ids).await?;
        self.platform
            .outbox
            .stage(
                tx,
                IncidentOpenedV1 {
                    incident_id: id,
                    fault_type: fault_type.to_owned(),
                    title,
                    ticket_ids: ids.clone(),
                    opened_at: Utc::now(),
                },
            )
            .await?;
        tracing::info!(incident_id = %id, tickets = ids.len(), fault_type, "incident opened");
        Ok(Some(id))
    }
}

/// The distinct words a knowledge-base search uses (the first 64: a long mail does not make a
/// huge query).
fn search_terms(terms: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    terms
        .iter()
        .filter(|t| seen.insert(t.as_str()))
        .take(64)
        .cloned()
        .collect()
}
