//! What refund publishes: a request's life, one event per step, each carrying the request as it
//! stands after the step and staged with the request's number for it (`subjectseq`, the
//! request's `version` after the step).
//!
//! | type | when | `amount_minor` |
//! |---|---|---|
//! | `refund.request.submitted` | filed (event 1) | asked for |
//! | `refund.request.quoted` | filed (event 2) | the policy's quote |
//! | `refund.request.approved` | approved, automatically at filing (event 3) or by staff | approved |
//! | `refund.request.rejected` | rejected | asked for |
//! | `refund.request.cancelled` | withdrawn before a decision | asked for |
//!
//! Taking a request for review publishes nothing (it is in the audit trail).

use chrono::{DateTime, Utc};
use contracts::refund::{
    RefundApprovedV1, RefundCancelledV1, RefundQuotedV1, RefundRejectedV1, RefundRequestV1, RefundSubmittedV1,
};
use uuid::Uuid;

use crate::domain::workflow::Status;
use crate::store::enrolments::EnrolmentRow;
use crate::store::requests::RequestRow;

/// Who took a step (`None`: the service itself), why, and when.
#[derive(Debug, Clone, Copy)]
pub struct Stamp<'a> {
    pub actor: Option<Uuid>,
    pub note: Option<&'a str>,
    pub at: DateTime<Utc>,
}

fn request(r: &RequestRow, e: &EnrolmentRow, amount_minor: i64, stamp: Stamp<'_>) -> RefundRequestV1 {
    RefundRequestV1 {
        request_id: r.id,
        enrolment_id: r.enrolment_id,
        customer_id: r.customer_id,
        ticket_id: r.ticket_id,
        status: r.status.as_str().to_owned(),
        reason: r.reason.as_str().to_owned(),
        course_id: e.course_id.clone(),
        amount_minor,
        currency: r.currency.clone(),
        policy_version: r.policy_version,
        in_cooling_off: r.in_cooling_off,
        actor_id: stamp.actor,
        note: stamp.note.map(str::to_owned),
        at: stamp.at,
    }
}

/// `refund.request.submitted`: the request as filed (status `requested`).
pub fn submitted(r: &RequestRow, e: &EnrolmentRow, stamp: Stamp<'_>) -> RefundSubmittedV1 {
    let mut data = request(r, e, r.amount_minor, stamp);
    data.status = Status::Requested.as_str().to_owned();
    RefundSubmittedV1(data)
}

/// `refund.request.quoted`: the policy's amount for it (status `requested`).
pub fn quoted(r: &RequestRow, e: &EnrolmentRow, stamp: Stamp<'_>) -> RefundQuotedV1 {
    let mut data = request(r, e, r.quote_minor, stamp);
    data.status = Status::Requested.as_str().to_owned();
    RefundQuotedV1(data)
}

/// `refund.request.approved` for the approved amount.
pub fn approved(r: &RequestRow, e: &EnrolmentRow, stamp: Stamp<'_>) -> RefundApprovedV1 {
    RefundApprovedV1(request(r, e, r.approved_minor.unwrap_or(r.amount_minor), stamp))
}

/// `refund.request.rejected`, with the decider's note.
pub fn rejected(r: &RequestRow, e: &EnrolmentRow, stamp: Stamp<'_>) -> RefundRejectedV1 {
    RefundRejectedV1(request(r, e, r.amount_minor, stamp))
}

/// `refund.request.cancelled`.
pub fn cancelled(r: &RequestRow, e: &EnrolmentRow, stamp: Stamp<'_>) -> RefundCancelledV1 {
    RefundCancelledV1(request(r, e, r.amount_minor, stamp))
}
