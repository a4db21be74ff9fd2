//! Every SQL statement of the intake service: tickets and their threads here, the other
//! aggregates in their own files.
#![allow(clippy::disallowed_methods)]

use chrono::{DateTime, SubsecRound, Utc};
use contracts::vocabulary::Priority;
use contracts::{AgentId, ArticleId, CustomerId, IncidentId, MessageId, TicketId};
use platform::Tx;
use platform::bus::outbox::{self, PreparedColumns};
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::classify::Classification;
use crate::domain::incident::IncidentStatus;
use crate::domain::kb::ArticleStatus;
use crate::domain::lifecycle::Status;
use crate::domain::survey::FollowUpStatus;
use crate::domain::ticket::{ContextWindows, ValidTicket};

pub mod customers;
pub mod incidents;
pub mod kb;
pub mod refunds;
pub mod reports;
pub mod surveys;

/// A status as its text column holds it, read into its state enum (`#[sqlx(try_from =
/// "StatusText")]` on a row's field).
#[derive(sqlx::Type)]
#[sqlx(transparent)]
pub struct StatusText(String);

macro_rules! from_status_text {
    ($($name:ty),*) => {
        $(
            impl TryFrom<StatusText> for $name {
                type Error = String;

                fn try_from(s: StatusText) -> Result<Self, String> {
                    <$name>::parse(&s.0).ok_or_else(|| format!("unknown status `{}`", s.0))
                }
            }
        )*
    };
}

from_status_text!(Status, IncidentStatus, ArticleStatus, FollowUpStatus);

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TicketRow {
    pub id: TicketId,
    pub customer_id: CustomerId,
    pub channel: String,
    pub subject: String,
    pub body: String,
    #[sqlx(try_from = "StatusText")]
    pub status: Status,
    pub priority: String,
    pub category: String,
    pub language: String,
    pub education_level: Option<String>,
    pub keywords: Vec<String>,
    pub high_emotion: bool,
    pub classification: serde_json::Value,
    pub created_by: Uuid,
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub reopen_count: i32,
    pub number: i64,
    pub customer_role: Option<String>,
    pub customer_segments: Vec<String>,
    pub fault: Option<serde_json::Value>,
    pub fault_type: Option<String>,
    pub assignee_id: Option<AgentId>,
    pub resolved_by: Option<Uuid>,
    pub incident_id: Option<IncidentId>,
    pub answer_article_id: Option<ArticleId>,
    /// How well the article sent as the automatic answer matched (0-1).
    #[sqlx(rename = "answer_score")]
    pub answer_confidence: Option<f32>,
    pub deflected: bool,
    pub resolve_by: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The ticket's place in the sequence of events published about it: the `subjectseq` of
    /// the last one. Every event whose subject is the ticket carries its own number —
    /// `intake.ticket.created` (1), `status_changed`, `message_added`, `resolved`, `reopened`,
    /// `intake.survey.requested` and `intake.survey.answered` — bumped on this row in the
    /// statement that makes the change the event reports (a transition bumps it by the number
    /// of events it publishes). Incident events are about the incident and carry none. Changes
    /// that publish nothing (linking to an incident, a hand-over between agents while the
    /// ticket is worked on, the first-response stamp, which `message_added` reports) leave it.
    pub version: i64,
    /// The `subjectseq` of the last routing event about the ticket that was applied: an older
    /// one arriving late is skipped.
    pub routing_seq: Option<i64>,
}

const COLUMNS: &str = "id, customer_id, channel, subject, body, status, priority, category, language, education_level, \
                       keywords, high_emotion, classification, created_by, first_response_at, resolved_at, \
                       closed_at, reopen_count, number, customer_role, customer_segments, fault, fault_type, \
                       assignee_id, resolved_by, incident_id, answer_article_id, answer_score, deflected, resolve_by, \
                       created_at, updated_at, version, routing_seq";

/// Everything a new ticket row holds besides what the request and classification gave.
pub struct TicketExtras<'a> {
    pub status: Status,
    pub priority: Priority,
    pub created_by: Uuid,
    pub customer: Option<&'a (String, Vec<String>)>,
    pub fault: Option<serde_json::Value>,
    pub fault_type: Option<&'a str>,
    pub answer: Option<(ArticleId, f32)>,
    pub resolve_by: Option<DateTime<Utc>>,
}

impl TicketRow {
    /// A new ticket, whole before it is written: `number` comes from the ticket number sequence
    /// (see [`OpenContext::number`]), the times are `now` (the service's clock; to the
    /// microsecond, as stored); its `intake.ticket.created` is event 1.
    pub fn new(t: &ValidTicket, c: &Classification, x: &TicketExtras<'_>, number: i64, now: DateTime<Utc>) -> Self {
        let now = now.trunc_subsecs(6);
        let (role, segments) = x
            .customer
            .map_or((None, Vec::new()), |(r, s)| (Some(r.clone()), s.clone()));
        Self {
            id: TicketId::new(),
            customer_id: t.customer_id,
            channel: t.channel.as_str().to_owned(),
            subject: t.subject.clone(),
            body: t.body.clone(),
            status: x.status,
            priority: x.priority.as_str().to_owned(),
            category: c.category.clone(),
            language: c.language.clone(),
            education_level: c.education_level.clone(),
            keywords: c.keywords.clone(),
            high_emotion: c.high_emotion,
            classification: serde_json::to_value(&c.explanation).unwrap_or_default(),
            created_by: x.created_by,
            first_response_at: None,
            resolved_at: None,
            closed_at: None,
            reopen_count: 0,
            number,
            customer_role: role,
            customer_segments: segments,
            fault: x.fault.clone(),
            fault_type: x.fault_type.map(str::to_owned),
            assignee_id: None,
            resolved_by: None,
            incident_id: None,
            answer_article_id: x.answer.map(|a| a.0),
            answer_confidence: x.answer.map(|a| a.1),
            deflected: false,
            resolve_by: x.resolve_by,
            created_at: now,
            updated_at: now,
            version: 1,
            routing_seq: None,
        }
    }
}

/// A new ticket as [`insert_tickets`] writes it.
#[derive(Debug)]
pub struct NewTicketRow<'a> {
    pub row: &'a TicketRow,
    pub source_ref: Option<&'a str>,
}

/// Writes new tickets (version 1: their `intake.ticket.created`; linked to their incident, if
/// they have one) and outbox rows in one statement (atomic on its own, or part of the caller's
/// transaction); `now` is the service's clock.
#[tracing::instrument(skip_all, fields(tickets = rows.len()))]
pub async fn insert_tickets<'c>(
    conn: impl sqlx::PgExecutor<'c>,
    rows: &[NewTicketRow<'_>],
    events: PreparedColumns,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    // Column arrays (a row set from JSON costs more per statement than the rows themselves);
    // word lists travel as JSON arrays, as arrays of arrays cannot.
    macro_rules! col {
        ($f:expr) => {
            rows.iter().map($f).collect::<Vec<_>>()
        };
    }
    let words = |w: &[String]| serde_json::json!(w);
    // A ticket linked to an incident keeps it current (at most once a minute: under an outage
    // every new ticket links there, and the window is counted in minutes anyway).
    sqlx::query(&format!(
        "WITH t AS (INSERT INTO ticket (id, customer_id, channel, subject, body, status, priority, category, \
                        language, education_level, keywords, high_emotion, classification, created_by, \
                        customer_role, customer_segments, fault, fault_type, answer_article_id, answer_score, \
                        resolve_by, source_ref, incident_id, number, created_at, updated_at, version) \
                    OVERRIDING SYSTEM VALUE \
                    SELECT id, customer_id, channel, subject, body, status, priority, category, language, \
                        education_level, ARRAY(SELECT jsonb_array_elements_text(keywords)), high_emotion, \
                        classification, created_by, customer_role, \
                        ARRAY(SELECT jsonb_array_elements_text(customer_segments)), fault, fault_type, \
                        answer_article_id, answer_score, resolve_by, source_ref, incident_id, number, created_at, \
                        updated_at, 1 \
                    FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
                                $8::text[], $9::text[], $10::text[], $11::jsonb[], $12::bool[], $13::jsonb[], \
                                $14::uuid[], $15::text[], $16::jsonb[], $17::jsonb[], $18::text[], $19::uuid[], \
                                $20::float4[], $21::timestamptz[], $22::text[], $23::uuid[], $24::int8[], \
                                $25::timestamptz[], $26::timestamptz[]) \
                         AS r(id, customer_id, channel, subject, body, status, priority, category, language, \
                              education_level, keywords, high_emotion, classification, created_by, customer_role, \
                              customer_segments, fault, fault_type, answer_article_id, answer_score, resolve_by, \
                              source_ref, incident_id, number, created_at, updated_at) \
                    RETURNING incident_id), \
              i AS (UPDATE incident SET last_linked_at = $31 \
                    WHERE id IN (SELECT incident_id FROM t) AND last_linked_at < $31 - interval '1 minute'), \
              o AS ({outbox}) \
         SELECT 1",
        outbox = outbox::insert_many(27)
    ))
    .bind(col!(|r| r.row.id))
    .bind(col!(|r| r.row.customer_id))
    .bind(col!(|r| r.row.channel.as_str()))
    .bind(col!(|r| r.row.subject.as_str()))
    .bind(col!(|r| r.row.body.as_str()))
    .bind(col!(|r| r.row.status.as_str()))
    .bind(col!(|r| r.row.priority.as_str()))
    .bind(col!(|r| r.row.category.as_str()))
    .bind(col!(|r| r.row.language.as_str()))
    .bind(col!(|r| r.row.education_level.as_deref()))
    .bind(col!(|r| words(&r.row.keywords)))
    .bind(col!(|r| r.row.high_emotion))
    .bind(col!(|r| &r.row.classification))
    .bind(col!(|r| r.row.created_by))
    .bind(col!(|r| r.row.customer_role.as_deref()))
    .bind(col!(|r| words(&r.row.customer_segments)))
    .bind(col!(|r| r.row.fault.as_ref()))
    .bind(col!(|r| r.row.fault_type.as_deref()))
    .bind(col!(|r| r.row.answer_article_id))
    .bind(col!(|r| r.row.answer_confidence))
    .bind(col!(|r| r.row.resolve_by))
    .bind(col!(|r| r.source_ref))
    .bind(col!(|r| r.row.incident_id))
    .bind(col!(|r| r.row.number))
    .bind(col!(|r| r.row.created_at))
    .bind(col!(|r| r.row.updated_at))
    .bind(events.event_ids)
    .bind(events.event_types)
    .bind(events.envelopes)
    .bind(events.traceparents)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// What opening a ticket for a customer needs to know first.
#[derive(Debug, sqlx::FromRow)]
pub struct OpenContext {
    pub role: Option<String>,
    pub segments: Option<Vec<String>>,
    /// Tickets opened in the repeated-contact window.
    pub recent: i64,
    /// Open tickets opened in the duplicate window: `[{id, channel, keywords}]`.
    pub open: serde_json::Value,
    /// Open incidents sharing a word with the ticket that had a ticket linked within the
    /// incident window, newest first: `[{id, fault_type, terms}]`.
    pub incidents: serde_json::Value,
    /// The next ticket number, taken whether or not a ticket is opened (numbers may skip).
    pub number: i64,
}

/// What [`open_contexts`] looks up for one new ticket.
#[derive(Debug, Clone)]
pub struct ContextQuery {
    pub customer_id: CustomerId,
    /// The ticket's words.
    pub terms: Vec<String>,
}

/// One round trip for everything opening tickets reads, for any number of them at once: each
/// customer's profile, recent and open tickets, and the open incidents sharing words with the
/// ticket; one context per query, in order. The windows end at `now` (the service's clock).
pub async fn open_contexts<'c>(
    conn: impl sqlx::PgExecutor<'c>,
    queries: &[ContextQuery],
    windows: &ContextWindows,
    now: DateTime<Utc>,
) -> Result<Vec<OpenContext>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.role, c.segments, \
            (SELECT count(*) FROM ticket WHERE customer_id = x.customer_id \
                AND created_at > $6 - make_interval(hours => $2)) AS recent, \
            (SELECT coalesce(json_agg(json_build_object('id', o.id, 'channel', o.channel, 'keywords', o.keywords)), \
                             '[]'::json) \
               FROM (SELECT id, channel, keywords FROM ticket WHERE customer_id = x.customer_id \
                       AND status NOT IN ('resolved', 'closed', 'cancelled') \
                       AND created_at > $6 - make_interval(mins => $3) \
                     ORDER BY created_at DESC LIMIT 5) o)::jsonb AS open, \
            (SELECT coalesce(json_agg(json_build_object('id', i.id, 'fault_type', i.fault_type, 'terms', i.terms) \
                                      ORDER BY i.last_linked_at DESC), '[]'::json) \
               FROM (SELECT id, fault_type, terms, last_linked_at FROM incident WHERE status = 'open' \
                       AND last_linked_at > $6 - make_interval(mins => $4) AND terms && ARRAY(SELECT jsonb_array_elements_text(x.terms)) \
                     ORDER BY last_linked_at DESC LIMIT 20) i)::jsonb AS incidents, \
            nextval('ticket_number_seq') AS number \
         FROM unnest($1::uuid[], $5::jsonb[]) WITH ORDINALITY AS x(customer_id, terms, ord) \
         LEFT JOIN customer c ON c.id = x.customer_id \
         ORDER BY x.ord",
    )
    .bind(queries.iter().map(|q| q.customer_id).collect::<Vec<_>>())
    .bind(i32::try_from(windows.repeat_hours).unwrap_or(i32::MAX))
    .bind(i32::try_from(windows.duplicate_minutes).unwrap_or(i32::MAX))
    .bind(i32::try_from(windows.incident_minutes).unwrap_or(i32::MAX))
    .bind(queries.iter().map(|q| serde_json::json!(q.terms)).collect::<Vec<_>>())
    .bind(now)
    .fetch_all(conn)
    .await
}

#[tracing::instrument(skip_all, fields(ticket_id = %id))]
pub async fn ticket(pool: &PgPool, id: TicketId) -> Result<Option<TicketRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM ticket WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// The ticket, locked for the rest of the transaction.
pub async fn ticket_for_update(tx: &mut Tx, id: TicketId) -> Result<Option<TicketRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM ticket WHERE id = $1 FOR UPDATE"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
}

/// A status change to make: the ticket moves to `to` if it is in one of `from`.
pub struct StatusChange<'a> {
    pub from: &'a [Status],
    pub to: Status,
    pub actor: Uuid,
    pub assignee: Option<AgentId>,
    /// How many events about the ticket the change publishes: its version moves on by as many.
    pub events: i64,
    /// The service's clock.
    pub now: DateTime<Utc>,
}

/// Makes the status change `c`; `None` when the ticket is not in one of `c.from` (nothing
/// changed). Stamps resolution (by the actor; deflected when it was answered from the knowledge
/// base), closing and reopen counts at `c.now`, sets the assignee when one is given and moves
/// the version on by `c.events`.
#[tracing::instrument(skip_all, fields(ticket_id = %id, to = c.to.as_str()))]
pub async fn set_status(tx: &mut Tx, id: TicketId, c: &StatusChange<'_>) -> Result<Option<TicketRow>, sqlx::Error> {
    let from: Vec<&str> = c.from.iter().map(|s| s.as_str()).collect();
    sqlx::query_as(&format!(
        "UPDATE ticket SET status = $3, updated_at = $6, version = version + $7, \
            resolved_at = CASE WHEN $3 = 'resolved' THEN $6 ELSE resolved_at END, \
            resolved_by = CASE WHEN $3 = 'resolved' THEN $4 ELSE resolved_by END, \
            deflected = CASE WHEN $3 = 'resolved' THEN status = 'auto_answered' \
                             WHEN $3 = 'queued' THEN false ELSE deflected END, \
            closed_at = CASE WHEN $3 IN ('closed', 'cancelled') THEN $6 ELSE closed_at END, \
            reopen_count = reopen_count + CASE WHEN status = 'resolved' AND $3 = 'queued' THEN 1 ELSE 0 END, \
            assignee_id = COALESCE($5, assignee_id) \
         WHERE id = $1 AND status = ANY($2) RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(&from)
    .bind(c.to.as_str())
    .bind(c.actor)
    .bind(c.assignee)
    .bind(c.now)
    .bind(c.events)
    .fetch_optional(&mut **tx)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRow {
    pub id: MessageId,
    pub ticket_id: TicketId,
    pub author_id: Uuid,
    pub author_role: String,
    pub visibility: String,
    pub kind: String,
    pub body: String,
    pub channel: Option<String>,
    pub created_at: DateTime<Utc>,
}

const MESSAGE_COLUMNS: &str = "id, ticket_id, author_id, author_role, visibility, kind, body, channel, created_at";

/// A message to add to a thread.
pub struct NewMessage<'a> {
    pub ticket_id: TicketId,
    pub author_id: Uuid,
    pub author_role: &'a str,
    pub visibility: &'a str,
    pub kind: &'a str,
    pub body: &'a str,
    pub channel: Option<&'a str>,
    pub external_id: Option<&'a str>,
}

/// A message just added, and the number of its `intake.ticket.message_added` (the ticket's
/// version after it).
#[derive(Debug, sqlx::FromRow)]
pub struct AddedMessage {
    #[sqlx(flatten)]
    pub message: MessageRow,
    pub seq: i64,
}

/// Adds a message at `now` (the service's clock), moving the ticket's version on for its event
/// in the same statement.
pub async fn insert_message(tx: &mut Tx, m: &NewMessage<'_>, now: DateTime<Utc>) -> Result<AddedMessage, sqlx::Error> {
    sqlx::query_as(&format!(
        "WITH m AS (INSERT INTO ticket_message (id, ticket_id, author_id, author_role, visibility, kind, body, \
                                                channel, external_id, created_at) \
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {MESSAGE_COLUMNS}), \
              v AS (UPDATE ticket SET version = version + 1, updated_at = $10 WHERE id = $2 RETURNING version) \
         SELECT m.*, v.version AS seq FROM m, v"
    ))
    .bind(MessageId::new())
    .bind(m.ticket_id)
    .bind(m.author_id)
    .bind(m.author_role)
    .bind(m.visibility)
    .bind(m.kind)
    .bind(m.body)
    .bind(m.channel)
    .bind(m.external_id)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
}

/// [`insert_message`], unless a message with its `external_id` exists already (the same note
/// or mail taken twice): `None` then, and nothing changed.
pub async fn insert_message_once(
    tx: &mut Tx,
    m: &NewMessage<'_>,
    now: DateTime<Utc>,
) -> Result<Option<AddedMessage>, sqlx::Error> {
    sqlx::query_as(&format!(
        "WITH m AS (INSERT INTO ticket_message (id, ticket_id, author_id, author_role, visibility, kind, body, \
                                                channel, external_id, created_at) \
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                    ON CONFLICT (external_id) WHERE external_id IS NOT NULL DO NOTHING \
                    RETURNING {MESSAGE_COLUMNS}), \
              v AS (UPDATE ticket SET version = version + 1, updated_at = $10 \
                    WHERE id = $2 AND EXISTS (SELECT 1 FROM m) RETURNING version) \
         SELECT m.*, v.version AS seq FROM m, v"
    ))
    .bind(MessageId::new())
    .bind(m.ticket_id)
    .bind(m.author_id)
    .bind(m.author_role)
    .bind(m.visibility)
    .bind(m.kind)
    .bind(m.body)
    .bind(m.channel)
    .bind(m.external_id)
    .bind(now)
    .fetch_optional(&mut **tx)
    .await
}

/// Stamps the first response time (`now`, the service's clock) unless one is stamped; true when
/// this was the first.
pub async fn stamp_first_response(tx: &mut Tx, id: TicketId, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE ticket SET first_response_at = $2, updated_at = $2 WHERE id = $1 AND first_response_at IS NULL",
    )
    .bind(id)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// A ticket's thread, oldest first; internal notes only when asked for.
pub async fn messages(pool: &PgPool, ticket_id: TicketId, with_internal: bool) -> Result<Vec<MessageRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM ticket_message WHERE ticket_id = $1 AND ($2 OR visibility = 'public') \
         ORDER BY created_at, id"
    ))
    .bind(ticket_id)
    .bind(with_internal)
    .fetch_all(pool)
    .await
}

/// Which tickets a listing shows.
#[derive(Debug, Default, Clone)]
pub struct TicketFilter {
    pub customer_id: Option<CustomerId>,
    pub status: Option<String>,
    pub category: Option<String>,
    pub channel: Option<String>,
    pub incident_id: Option<IncidentId>,
}

/// Tickets matching `f`, newest first, after the cursor.
pub async fn list(
    pool: &PgPool,
    f: &TicketFilter,
    limit: i64,
    after: Option<platform::pagination::After>,
) -> Result<Vec<TicketRow>, sqlx::Error> {
    let (at, id) = after.map_or((None, None), |(at, id)| (Some(at), Some(id)));
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM ticket \
         WHERE ($1::uuid IS NULL OR customer_id = $1) AND ($2::text IS NULL OR status = $2) \
           AND ($3::text IS NULL OR category = $3) AND ($4::text IS NULL OR channel = $4) \
           AND ($5::uuid IS NULL OR incident_id = $5) \
           AND ($6::timestamptz IS NULL OR (created_at, id) < ($6, $7)) \
         ORDER BY created_at DESC, id DESC LIMIT $8"
    ))
    .bind(f.customer_id)
    .bind(&f.status)
    .bind(&f.category)
    .bind(&f.channel)
    .bind(f.incident_id)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The ticket a mail with one of these Message-IDs belongs to (its first mail or a message).
pub async fn ticket_by_mail(tx: &mut Tx, message_ids: &[String]) -> Result<Option<TicketRow>, sqlx::Error> {
    if message_ids.is_empty() {
        return Ok(None);
    }
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM ticket WHERE id IN ( \
            SELECT id FROM ticket WHERE source_ref = ANY($1) \
            UNION SELECT ticket_id FROM ticket_message WHERE external_id = ANY($1)) \
         ORDER BY created_at DESC LIMIT 1 FOR UPDATE"
    ))
    .bind(message_ids)
    .fetch_optional(&mut **tx)
    .await
}

pub async fn ticket_by_number(tx: &mut Tx, number: i64) -> Result<Option<TicketRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM ticket WHERE number = $1 FOR UPDATE"))
        .bind(number)
        .fetch_optional(&mut **tx)
        .await
}

/// Hands a ticket already being worked on to another agent (its status stays; nothing is
/// published, so the version stays too).
pub async fn set_assignee(tx: &mut Tx, id: TicketId, agent: AgentId, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE ticket SET assignee_id = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(agent)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Records that routing's event number `seq` about the ticket is being applied, unless one as
/// new or newer was applied already: false then (the event is stale and must change nothing).
/// Atomic with the caller's change (same transaction, the row locked by this update).
pub async fn claim_routing_seq(tx: &mut Tx, id: TicketId, seq: i64) -> Result<bool, sqlx::Error> {
    let n =
        sqlx::query("UPDATE ticket SET routing_seq = $2 WHERE id = $1 AND (routing_seq IS NULL OR routing_seq < $2)")
            .bind(id)
            .bind(seq)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    Ok(n == 1)
}
