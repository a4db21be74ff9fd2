//! Events published by the intake service.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Event;
use crate::ids::{AgentId, CustomerId, IncidentId, MessageId, TicketId};
use crate::vocabulary::{Channel, Priority, TicketStatus};

/// `intake.ticket.created` v1: a customer's ticket was opened on some channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketCreatedV1 {
    pub ticket_id: TicketId,
    pub customer_id: CustomerId,
    pub channel: Channel,
    pub subject: String,
    pub priority: Priority,
    /// Classified category (`course_consultation`, `technical`, ...), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Detected language (BCP 47, `zh-CN`, `en`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The ticket as the routing and notification services need it; absent from events of
    /// earlier producers.
    #[serde(default, flatten)]
    pub details: TicketDetails,
    pub created_at: DateTime<Utc>,
}

/// What a new ticket carries besides its identity (all optional within v1).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TicketDetails {
    /// The human-readable number (`#1234` in email subjects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<i64>,
    /// `queued` (for people) or `auto_answered` (answered from the knowledge base, waiting for
    /// the customer's verdict; queued later if not solved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TicketStatus>,
    /// Angry or distressed: for senior agents.
    #[serde(default)]
    pub high_emotion: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub education_level: Option<String>,
    /// `student`, `parent`, `teacher`, `institution`, when the customer has a profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_role: Option<String>,
    /// `new_user`, `vip`, `special_needs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub customer_segments: Vec<String>,
    /// `hardware`, `software` or `network` for technical tickets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<IncidentId>,
}

impl Event for TicketCreatedV1 {
    const TYPE: &'static str = "intake.ticket.created";
    const VERSION: u32 = 1;

    fn subject(&self) -> Option<String> {
        Some(self.ticket_id.to_string())
    }
}

/// `intake.ticket.status_changed` v1: every lifecycle transition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketStatusChangedV1 {
    pub ticket_id: TicketId,
    pub customer_id: CustomerId,
    /// Status names: `new`, `auto_answered`, `queued`, `assigned`, `in_progress`,
    /// `waiting_on_customer`, `resolved`, `closed`, `cancelled`.
    pub from: TicketStatus,
    pub to: TicketStatus,
    /// What caused it (`resolve`, `reopen`, `customer_replied`, ...).
    pub action: String,
    /// Who: a customer, an agent, or the service itself for automatic changes.
    pub actor_id: Uuid,
    /// The agent who has the ticket after the change, when someone has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee_id: Option<AgentId>,
    pub changed_at: DateTime<Utc>,
}

impl Event for TicketStatusChangedV1 {
    const TYPE: &'static str = "intake.ticket.status_changed";
    const VERSION: u32 = 1;

    fn subject(&self) -> Option<String> {
        Some(self.ticket_id.to_string())
    }
}

/// `intake.ticket.message_added` v1: a message in a ticket's thread. Internal notes are
/// announced too (`visibility = internal`), for agents only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketMessageAddedV1 {
    pub ticket_id: TicketId,
    pub customer_id: CustomerId,
    pub message_id: MessageId,
    /// `customer`, `agent` or `system`.
    pub author_role: String,
    pub author_id: Uuid,
    /// `public` or `internal`.
    pub visibility: String,
    /// `message`, `progress_update` or `note`.
    pub kind: String,
    /// Whether this message is the first public answer by staff (stops first-response timers).
    pub first_response: bool,
    pub added_at: DateTime<Utc>,
}

impl Event for TicketMessageAddedV1 {
    const TYPE: &'static str = "intake.ticket.message_added";
    const VERSION: u32 = 1;

    fn subject(&self) -> Option<String> {
        Some(self.ticket_id.to_string())
    }
}

/// `intake.ticket.resolved` v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketResolvedV1 {
    pub ticket_id: TicketId,
    pub customer_id: CustomerId,
    pub resolved_by: Uuid,
    pub resolved_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl Event for TicketResolvedV1 {
    const TYPE: &'static str = "intake.ticket.resolved";
    const VERSION: u32 = 1;

    fn subject(&self) -> Option<String> {
        Some(self.ticket_id.to_string())
    }
}

/// `intake.ticket.reopened` v1: not solved after all; the ticket is queued again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketReopenedV1 {
    pub ticket_id: TicketId,
    pub customer_id: CustomerId,
    pub reopened_by: Uuid,
    pub reopen_count: i32,
    pub reopened_at: DateTime<Utc>,
}

impl Event for TicketReopenedV1 {
    const TYPE: &'static str = "intake.ticket.reopened";
    const VERSION: u32 = 1;

    fn subject(&self) -> Option<String> {
        Some(self.ticket_id.to_string())
    }
}

/// `intake.survey.requested` v1: ask the customer how the ticket went (notifications sends it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurveyRequestedV1 {
    pub ticket_id: TicketId,
    pub customer_id: CustomerId,
    /// The signed token of the survey link (`POST /v1/surveys/{token}` on intake).
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub requested_at: DateTime<Utc>,
}

impl Event for SurveyRequestedV1 {
    const TYPE: &'static str = "intake.survey.requested";
    const VERSION: u32 = 1;

    fn subject(&self) -> Option<String> {
        Some(self.ticket_id.to_string())
    }
}

/// `intake.survey.answered` v1: the customer's score (1-5) and comment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurveyAnsweredV1 {
    pub ticket_id: TicketId,
    pub customer_id: CustomerId,
    pub score: i16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub answered_at: DateTime<Utc>,
}

impl Event for SurveyAnsweredV1 {
    const TYPE: &'static str = "intake.survey.answered";
    const VERSION: u32 = 1;

    fn subject(&self) -> Option<String> {
        Some(self.ticket_id.to_string())
    }
}

/// `intake.incident.opened` v1: tickets about one fault were grouped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentOpenedV1 {
    pub incident_id: IncidentId,
    pub fault_type: String,
    pub title: String,
    pub ticket_ids: Vec<TicketId>,
    pub opened_at: DateTime<Utc>,
}

impl Event for IncidentOpenedV1 {
    const TYPE: &'static str = "intake.incident.opened";
    const VERSION: u32 = 1;

    fn subject(&self) -> Option<String> {
        Some(self.incident_id.to_string())
    }
}

/// `intake.incident.resolved` v1: the fault is fixed; every linked ticket was resolved with
/// the resolution as its answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentResolvedV1 {
    pub incident_id: IncidentId,
    pub resolution: String,
    pub ticket_ids: Vec<TicketId>,
    pub resolved_by: Uuid,
    pub resolved_at: DateTime<Utc>,
}

impl Event for IncidentResolvedV1 {
    const TYPE: &'static str = "intake.incident.resolved";
    const VERSION: u32 = 1;

    fn subject(&self) -> Option<String> {
        Some(self.incident_id.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventEnvelope, RawEnvelope};

    fn sample() -> TicketCreatedV1 {
        TicketCreatedV1 {
            ticket_id: TicketId::new(),
            customer_id: CustomerId::new(),
            channel: Channel::Web,
            subject: "课程怎么退费？".into(),
            priority: Priority::Normal,
            category: Some("refund".into()),
            language: None,
            details: TicketDetails {
                number: Some(7),
                status: Some(TicketStatus::Queued),
                customer_segments: vec!["vip".into()],
                ..TicketDetails::default()
            },
            created_at: Utc::now(),
        }
    }

    #[test]
    fn round_trips_through_a_raw_envelope() {
        let mut env = EventEnvelope::new("intake", sample());
        env.traceparent = Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into());
        let bytes = serde_json::to_vec(&env.clone().into_raw().expect("raw")).expect("json");
        let raw = RawEnvelope::from_slice(&bytes).expect("parse");
        let back = raw.decode::<TicketCreatedV1>().expect("decode");
        assert_eq!(back, env);
    }

    #[test]
    fn envelope_has_cloudevents_attributes() {
        let env = EventEnvelope::new("intake", sample());
        let json = serde_json::to_value(&env).expect("json");
        assert_eq!(json["specversion"], "1.0");
        assert_eq!(json["type"], "intake.ticket.created");
        assert_eq!(json["source"], "/intake");
        assert_eq!(json["dataschema"], "urn:edu-support:intake.ticket.created:v1");
        assert_eq!(json["subject"], env.data.ticket_id.to_string());
        assert_eq!(json["data"]["channel"], "web");
        assert!(json.get("language").is_none());
        assert!(json["data"].get("language").is_none(), "absent options are omitted");
        assert_eq!(json["data"]["number"], 7, "details sit beside the other fields");
        assert_eq!(json["data"]["customer_segments"][0], "vip");
    }

    #[test]
    fn unknown_fields_are_ignored_within_a_version() {
        let env = EventEnvelope::new("intake", sample());
        let mut raw = env.into_raw().expect("raw");
        raw.data["added_in_a_later_minor"] = serde_json::json!(true);
        assert!(raw.decode::<TicketCreatedV1>().is_ok());
    }

    #[test]
    fn lifecycle_events_round_trip() {
        let now = Utc::now();
        let changed = EventEnvelope::new(
            "intake",
            TicketStatusChangedV1 {
                ticket_id: TicketId::new(),
                customer_id: CustomerId::new(),
                from: TicketStatus::InProgress,
                to: TicketStatus::Resolved,
                action: "resolve".into(),
                actor_id: Uuid::new_v4(),
                assignee_id: None,
                changed_at: now,
            },
        );
        let raw: RawEnvelope = serde_json::from_str(&serde_json::to_string(&changed).expect("json")).expect("parse");
        assert_eq!(raw.event_type, "intake.ticket.status_changed");
        assert_eq!(raw.decode::<TicketStatusChangedV1>().expect("decode"), changed);
        let resolved = EventEnvelope::new(
            "intake",
            TicketResolvedV1 {
                ticket_id: TicketId::new(),
                customer_id: CustomerId::new(),
                resolved_by: Uuid::new_v4(),
                resolved_at: now,
                first_response_at: None,
                created_at: now,
            },
        );
        let json = serde_json::to_value(&resolved).expect("json");
        assert!(json["data"].get("first_response_at").is_none());
        let raw: RawEnvelope = serde_json::from_value(json).expect("parse");
        assert!(raw.decode::<TicketReopenedV1>().is_err(), "another type is refused");
        assert_eq!(raw.decode::<TicketResolvedV1>().expect("decode"), resolved);
    }

    #[test]
    fn another_type_or_version_is_refused() {
        let env = EventEnvelope::new("intake", sample());
        let mut raw = env.into_raw().expect("raw");
        raw.dataschema = "urn:edu-support:intake.ticket.created:v2".into();
        assert!(raw.decode::<TicketCreatedV1>().is_err());
        raw.event_type = "intake.ticket.deleted".into();
        assert!(raw.decode::<TicketCreatedV1>().is_err());
    }
}

#[cfg(test)]
mod later_events {
    use super::*;
    use crate::{EventEnvelope, RawEnvelope};

    #[test]
    fn survey_and_incident_events_round_trip() {
        let now = Utc::now();
        let answered = EventEnvelope::new(
            "intake",
            SurveyAnsweredV1 {
                ticket_id: TicketId::new(),
                customer_id: CustomerId::new(),
                score: 5,
                comment: Some("很耐心".into()),
                answered_at: now,
            },
        );
        let raw: RawEnvelope = serde_json::from_str(&serde_json::to_string(&answered).expect("json")).expect("parse");
        assert_eq!(raw.event_type, "intake.survey.answered");
        assert_eq!(raw.decode::<SurveyAnsweredV1>().expect("decode"), answered);
        let resolved = EventEnvelope::new(
            "intake",
            IncidentResolvedV1 {
                incident_id: IncidentId::new(),
                resolution: "CDN restored".into(),
                ticket_ids: vec![TicketId::new()],
                resolved_by: Uuid::new_v4(),
                resolved_at: now,
            },
        );
        let raw: RawEnvelope = serde_json::from_str(&serde_json::to_string(&resolved).expect("json")).expect("parse");
        assert_eq!(raw.decode::<IncidentResolvedV1>().expect("decode"), resolved);
        assert!(raw.decode::<SurveyAnsweredV1>().is_err(), "the type is checked");
    }
}
