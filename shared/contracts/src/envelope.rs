//! The CloudEvents 1.0 envelope with the W3C trace-context extension.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uuid::Uuid;

/// A typed event payload: its CloudEvents `type` and its major version.
pub trait Event: Serialize + DeserializeOwned {
    /// The event type, also the routing key: `<service>.<entity>.<what happened>`.
    const TYPE: &'static str;
    /// Major version of the payload schema.
    const VERSION: u32;

    /// The CloudEvents `subject`: the id of the entity the event is about.
    fn subject(&self) -> Option<String> {
        None
    }

    /// The `dataschema` URI naming this payload's type and version.
    fn dataschema() -> String {
        format!("urn:edu-support:{}:v{}", Self::TYPE, Self::VERSION)
    }
}

/// CloudEvents 1.0 JSON envelope (structured mode).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope<T> {
    pub specversion: String,
    /// UUIDv7: unique per event, time-ordered; consumers de-duplicate on it.
    pub id: Uuid,
    /// The producing service, as a URI reference (`/intake`).
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub time: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub datacontenttype: String,
    pub dataschema: String,
    /// W3C `traceparent` (CloudEvents distributed-tracing extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracestate: Option<String>,
    /// The event's place among the events about its `subject` from this producer: 1, 2, 3…,
    /// written in the same transaction as the change it reports (an extension attribute).
    /// A consumer that keeps state from these events ignores one whose number is not above
    /// the last it applied, so a late event cannot undo a newer one. Absent on events whose
    /// order does not matter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subjectseq: Option<i64>,
    pub data: T,
}

/// An envelope whose payload is not decoded yet.
pub type RawEnvelope = EventEnvelope<serde_json::Value>;

impl<T: Event> EventEnvelope<T> {
    /// A new envelope for `data`, produced by `service`, stamped now.
    pub fn new(service: &str, data: T) -> Self {
        Self {
            specversion: "1.0".to_owned(),
            id: Uuid::now_v7(),
            source: format!("/{service}"),
            event_type: T::TYPE.to_owned(),
            time: Utc::now(),
            subject: data.subject(),
            datacontenttype: "application/json".to_owned(),
            dataschema: T::dataschema(),
            traceparent: None,
            tracestate: None,
            subjectseq: None,
            data,
        }
    }

    /// The same envelope, the `seq`-th event about its subject.
    pub fn in_sequence(mut self, seq: i64) -> Self {
        self.subjectseq = Some(seq);
        self
    }

    /// The same envelope with an untyped payload, ready to store or send.
    pub fn into_raw(self) -> Result<RawEnvelope, serde_json::Error> {
        let data = serde_json::to_value(&self.data)?;
        Ok(self.with_data(data))
    }
}

impl<T> EventEnvelope<T> {
    /// The same envelope attributes around another payload.
    pub fn with_data<U>(self, data: U) -> EventEnvelope<U> {
        EventEnvelope {
            data,
            specversion: self.specversion,
            id: self.id,
            source: self.source,
            event_type: self.event_type,
            time: self.time,
            subject: self.subject,
            datacontenttype: self.datacontenttype,
            dataschema: self.dataschema,
            traceparent: self.traceparent,
            tracestate: self.tracestate,
            subjectseq: self.subjectseq,
        }
    }

    /// Whether this event is older than (or the same as) the last one applied about its
    /// subject, `last_applied`: a consumer that keeps state skips it. An event without a
    /// number, or a subject with none applied yet, is never stale.
    pub fn is_stale(&self, last_applied: Option<i64>) -> bool {
        matches!((self.subjectseq, last_applied), (Some(seq), Some(last)) if seq <= last)
    }
}

/// Why an envelope could not be read as the payload a consumer expected.
#[derive(Debug)]
pub enum DecodeError {
    WrongType { expected: &'static str, found: String },
    WrongVersion { expected: String, found: String },
    Payload(serde_json::Error),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::WrongType { expected, found } => {
                write!(f, "expected event type {expected}, found {found}")
            }
            Self::WrongVersion { expected, found } => {
                write!(f, "expected data schema {expected}, found {found}")
            }
            Self::Payload(e) => write!(f, "payload does not match its schema: {e}"),
        }
    }
}

impl std::error::Error for DecodeError {}

impl RawEnvelope {
    /// Parses an envelope from JSON bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Decodes the payload as `T`, checking the type and the major version.
    pub fn decode<T: Event>(&self) -> Result<EventEnvelope<T>, DecodeError> {
        if self.event_type != T::TYPE {
            return Err(DecodeError::WrongType {
                expected: T::TYPE,
                found: self.event_type.clone(),
            });
        }
        if self.dataschema != T::dataschema() {
            return Err(DecodeError::WrongVersion {
                expected: T::dataschema(),
                found: self.dataschema.clone(),
            });
        }
        let data = T::deserialize(&self.data).map_err(DecodeError::Payload)?;
        Ok(self.clone().with_data(data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::TicketReopenedV1;

    fn reopened() -> EventEnvelope<TicketReopenedV1> {
        EventEnvelope::new(
            "intake",
            TicketReopenedV1 {
                ticket_id: crate::TicketId::new(),
                customer_id: crate::CustomerId::new(),
                reopened_by: Uuid::new_v4(),
                reopen_count: 1,
                reopened_at: Utc::now(),
            },
        )
    }

    #[test]
    fn the_sequence_travels_in_the_envelope_and_orders_events_about_a_subject() {
        let env = reopened().in_sequence(7);
        let json = serde_json::to_value(&env).expect("json");
        assert_eq!(json["subjectseq"], 7);
        let raw: RawEnvelope = serde_json::from_value(json).expect("raw");
        assert_eq!(raw.subjectseq, Some(7));
        assert!(raw.is_stale(Some(7)) && raw.is_stale(Some(9)));
        assert!(!raw.is_stale(Some(6)) && !raw.is_stale(None));
        let unnumbered = reopened();
        assert!(
            serde_json::to_value(&unnumbered)
                .expect("json")
                .get("subjectseq")
                .is_none()
        );
        assert!(!unnumbered.is_stale(Some(100)));
    }
}
