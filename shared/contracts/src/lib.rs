//! The wire contract between services.
//!
//! Every event travels in a [CloudEvents 1.0](https://cloudevents.io) JSON envelope
//! ([`EventEnvelope`]). The envelope's `type` is the event type and the AMQP routing key
//! (`intake.ticket.created`); its `dataschema` names the payload's major version
//! (`urn:edu-support:intake.ticket.created:v1`). Payloads only ever gain optional fields within
//! a major version, so a consumer ignores fields it does not know; a breaking change is a new
//! version with a new payload type, published beside the old one until every consumer moved.

pub mod envelope;
pub mod ids;
pub mod intake;
pub mod refund;
pub mod routing;
pub mod training;
pub mod vocabulary;

pub use envelope::{DecodeError, Event, EventEnvelope, RawEnvelope};
pub use ids::{AgentId, ArticleId, CustomerId, IncidentId, MessageId, TicketId};
