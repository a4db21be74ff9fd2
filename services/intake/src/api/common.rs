//! What several resources answer with: a ticket, and a page of tickets.

use chrono::{DateTime, Utc};
use platform::pagination::next_cursor;
use platform::{ApiError, Platform};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::ticket::FaultRecord;
use crate::store::{self, TicketRow};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TicketResponse {
    pub id: Uuid,
    /// Human-readable number; `[#<number>]` in an email subject threads the mail here.
    pub number: i64,
    pub customer_id: Uuid,
    pub channel: String,
    pub subject: String,
    pub body: String,
    pub status: String,
    pub priority: String,
    pub classification: ClassificationResponse,
    /// The customer's role and segments when the ticket was opened (from their profile).
    pub customer_role: Option<String>,
    pub customer_segments: Vec<String>,
    /// Technical tickets: the fault record.
    #[schema(value_type = Option<FaultRecord>)]
    pub fault: Option<serde_json::Value>,
    pub incident_id: Option<Uuid>,
    /// The agent working on it.
    pub assignee_id: Option<Uuid>,
    /// The knowledge-base article sent as the automatic answer, and its confidence (0-1).
    pub answer_article_id: Option<Uuid>,
    pub answer_confidence: Option<f32>,
    /// Resolved by the automatic answer, without a person.
    pub deflected: bool,
    /// The resolution target of its category (feedback and suggestions: 48 hours).
    pub resolve_by: Option<DateTime<Utc>>,
    pub resolved_by: Option<Uuid>,
    /// When staff first answered publicly.
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub reopen_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What classification decided on create, and why.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ClassificationResponse {
    /// `course_consultation`, `technical`, `learning_progress`, `refund`, `complaint`,
    /// `course_suggestion`, `resource_request` or `other`.
    pub category: String,
    /// `zh-CN` or `en`.
    pub language: String,
    /// `k12`, `higher` or `vocational`, when recognisable.
    pub education_level: Option<String>,
    pub keywords: Vec<String>,
    /// Angry or distressed language, or repeated contact: routed to senior agents.
    pub high_emotion: bool,
    /// For technical tickets: `hardware`, `software` or `network`.
    pub fault_type: Option<String>,
    /// The terms and scores behind each decision.
    #[schema(value_type = Object)]
    pub explanation: serde_json::Value,
}

impl From<TicketRow> for TicketResponse {
    fn from(t: TicketRow) -> Self {
        Self {
            id: t.id.into(),
            number: t.number,
            customer_id: t.customer_id.into(),
            channel: t.channel,
            subject: t.subject,
            body: t.body,
            status: t.status.as_str().to_owned(),
            priority: t.priority,
            classification: ClassificationResponse {
                category: t.category,
                language: t.language,
                education_level: t.education_level,
                keywords: t.keywords,
                high_emotion: t.high_emotion,
                fault_type: t.fault_type,
                explanation: t.classification,
            },
            customer_role: t.customer_role,
            customer_segments: t.customer_segments,
            fault: t.fault,
            incident_id: t.incident_id.map(Into::into),
            assignee_id: t.assignee_id.map(Into::into),
            answer_article_id: t.answer_article_id.map(Into::into),
            answer_confidence: t.answer_confidence,
            deflected: t.deflected,
            resolve_by: t.resolve_by,
            resolved_by: t.resolved_by,
            first_response_at: t.first_response_at,
            resolved_at: t.resolved_at,
            closed_at: t.closed_at,
            reopen_count: t.reopen_count,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TicketListResponse {
    pub items: Vec<TicketResponse>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// One page of tickets matching `filter`.
pub async fn page_of(
    platform: &Platform,
    filter: &store::TicketFilter,
    limit: i64,
    after: Option<platform::pagination::After>,
) -> Result<TicketListResponse, ApiError> {
    let rows = store::list(&platform.pool, filter, limit, after).await?;
    let next_cursor = next_cursor(&rows, limit, |t| (t.created_at, t.id.into()));
    Ok(TicketListResponse {
        items: rows.into_iter().map(TicketResponse::from).collect(),
        next_cursor,
    })
}
