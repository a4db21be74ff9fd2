//! Events published by the refund service: a request's life, one event type per step. Every
//! event carries the request as it stands after the step, and is numbered per request
//! (`subjectseq`), so a consumer can skip one that arrives after a later one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Event;
use crate::ids::{CustomerId, TicketId};

/// A refund request as its events carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefundRequestV1 {
    pub request_id: Uuid,
    pub enrolment_id: Uuid,
    pub customer_id: CustomerId,
    /// The ticket the request came from, when it came from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_id: Option<TicketId>,
    /// `requested`, `under_review`, `approved`, `rejected`, `cancelled`, … after this step.
    pub status: String,
    /// `course_quality`, `teacher`, `schedule`, `relocation`, `duplicate_charge`, `other`.
    pub reason: String,
    pub course_id: String,
    /// What the policy allows (quoted) or what was approved (approved), in minor units.
    pub amount_minor: i64,
    /// ISO 4217.
    pub currency: String,
    /// The policy version the amount comes from.
    pub policy_version: i32,
    /// Inside the cooling-off period (a full refund without reason).
    #[serde(default)]
    pub in_cooling_off: bool,
    /// Who took the step: the customer, staff, or none (automatic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<Uuid>,
    /// The decider's note (a rejection's reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

macro_rules! request_event {
    ($ty:ident, $name:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub struct $ty(pub RefundRequestV1);

        impl Event for $ty {
            const TYPE: &'static str = $name;
            const VERSION: u32 = 1;

            fn subject(&self) -> Option<String> {
                Some(self.0.request_id.to_string())
            }
        }
    };
}

request_event!(
    RefundSubmittedV1,
    "refund.request.submitted",
    "`refund.request.submitted` v1: a customer (or staff on their behalf) asked for a refund."
);
request_event!(
    RefundQuotedV1,
    "refund.request.quoted",
    "`refund.request.quoted` v1: the policy's amount for a submitted request, with who must decide."
);
request_event!(
    RefundApprovedV1,
    "refund.request.approved",
    "`refund.request.approved` v1: approved (automatically or by staff) for `amount_minor`."
);
request_event!(
    RefundRejectedV1,
    "refund.request.rejected",
    "`refund.request.rejected` v1: rejected, with the decider's note."
);
request_event!(
    RefundCancelledV1,
    "refund.request.cancelled",
    "`refund.request.cancelled` v1: withdrawn by the customer before a decision."
);

/// `refund.class_transferred` v1: an after-sales request moved an enrolment to another class
/// (调班). Classes are named as the company's systems name them (an enrolment's `class_id`:
/// the class's code, such as `math-101-a`, or training-scheduling's class id); training-scheduling
/// moves the student and their seat to the new class's sessions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassTransferredV1 {
    pub enrolment_id: Uuid,
    pub from_class_id: String,
    pub to_class_id: String,
    pub customer_id: CustomerId,
    /// The request that decided the transfer.
    pub request_id: Uuid,
    pub at: DateTime<Utc>,
}

impl Event for ClassTransferredV1 {
    const TYPE: &'static str = "refund.class_transferred";
    const VERSION: u32 = 1;

    fn subject(&self) -> Option<String> {
        Some(self.enrolment_id.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_event_is_the_request_itself_on_the_wire() {
        let r = RefundRequestV1 {
            request_id: Uuid::nil(),
            enrolment_id: Uuid::nil(),
            customer_id: CustomerId(Uuid::nil()),
            ticket_id: None,
            status: "approved".into(),
            reason: "schedule".into(),
            course_id: "math-101".into(),
            amount_minor: 59_900,
            currency: "CNY".into(),
            policy_version: 1,
            in_cooling_off: true,
            actor_id: None,
            note: None,
            at: chrono::DateTime::UNIX_EPOCH,
        };
        let json = serde_json::to_value(RefundApprovedV1(r.clone())).expect("json");
        assert_eq!(json["amount_minor"], 59_900);
        assert_eq!(json["status"], "approved");
        let back: RefundApprovedV1 = serde_json::from_value(json).expect("back");
        assert_eq!(back.0, r);
        assert_eq!(RefundApprovedV1::TYPE, "refund.request.approved");
    }
}
