//! The workflow after filing: review, approve, reject, cancel — each on the locked enrolment
//! and request, checked by the state machine (`domain::workflow::next`; an illegal move is a
//! 409 and changes nothing), guarded again in SQL, written with its audit row and its event in
//! one transaction. And reading the audit trail.

use platform::ApiError;
use platform::auth::{Principal, Role};
use uuid::Uuid;

use super::{Refunds, role_names};
use crate::domain::request;
use crate::domain::workflow::{self, Decider, DecisionRefused, Step};
use crate::events;
use crate::store::audit::{self, AuditRow, Entry};
use crate::store::enrolments;
use crate::store::requests::{self as store, Change, RequestRow};

/// What someone does to a request.
#[derive(Debug, Clone, Copy)]
pub enum Move<'a> {
    /// Take it for review (the desk).
    Review,
    /// Approve it, for `amount_minor` (default: the amount asked for).
    Approve {
        amount_minor: Option<i64>,
        note: Option<&'a str>,
    },
    /// Reject it, saying why.
    Reject { note: &'a str },
    /// Withdraw it: its customer, or the desk.
    Cancel,
}

impl Move<'_> {
    fn step(&self) -> Step {
        match self {
            Self::Review => Step::Review,
            Self::Approve { .. } => Step::Approve,
            Self::Reject { .. } => Step::Reject,
            Self::Cancel => Step::Cancel,
        }
    }
}

fn refusal(e: DecisionRefused) -> ApiError {
    let code = match e {
        DecisionRefused::FourEyes => "four_eyes",
        DecisionRefused::NeedsSupervisor => "supervisor_required",
    };
    ApiError::new(actix_web::http::StatusCode::FORBIDDEN, code, "Forbidden", e.to_string())
}

impl Refunds {
    /// Applies `mv` to request `id` for `caller`. A customer acts on their own requests only
    /// (another's is a 404). Approval: at most what is left of the payment (422); a special
    /// case or an amount over `agent_max_minor` needs a supervisor or an admin, and whoever
    /// filed or reviewed the request cannot approve it (403 `supervisor_required`,
    /// `four_eyes`). Two moves on one request (or one enrolment) wait for each other: the
    /// second finds the first's result.
    pub async fn act(&self, caller: &Principal, id: Uuid, mv: Move<'_>) -> Result<RequestRow, ApiError> {
        let note = match mv {
            Move::Approve { note, .. } => request::note(note, false)?,
            Move::Reject { note } => request::note(Some(note), true)?,
            Move::Review | Move::Cancel => None,
        };
        let not_found = || ApiError::not_found("refund request");
        let mut tx = self.platform.pool.begin().await?;
        let enrolment_id = store::enrolment_of(&mut tx, id).await?.ok_or_else(not_found)?;
        let e = enrolments::lock(&mut tx, enrolment_id).await?.ok_or_else(not_found)?;
        let r = store::lock(&mut tx, id)
            .await?
            .filter(|r| caller.may_read_customer(r.customer_id))
            .ok_or_else(not_found)?;
        let to = workflow::next(r.status, mv.step()).map_err(|e| ApiError::conflict("illegal_move", e.to_string()))?;
        let now = self.now();
        let (change, amount) = match mv {
            Move::Review => (Change::Review { by: caller.subject }, r.amount_minor),
            Move::Approve { amount_minor, .. } => {
                let refunded = enrolments::refund_state(&mut *tx, e.id).await?.refunded_minor;
                let remaining = e.paid_minor.saturating_sub(refunded);
                let amount = request::approved_amount(amount_minor, r.amount_minor, remaining, &r.currency)?;
                let special = request::is_special(amount, r.quote_minor, r.reason, r.in_cooling_off);
                let needed = match workflow::decider(amount, r.in_cooling_off, special, &self.approval) {
                    Decider::Automatic => Decider::Agent,
                    d => d,
                };
                let supervisor = caller.has_any(&[Role::Supervisor, Role::Admin]);
                workflow::may_approve(caller.subject, supervisor, r.filed_by, r.reviewed_by, needed)
                    .map_err(refusal)?;
                let change = Change::Decide {
                    by: Some(caller.subject),
                    approved_minor: Some(amount),
                    note: note.as_deref(),
                };
                (change, amount)
            }
            Move::Reject { .. } => {
                let change = Change::Decide {
                    by: Some(caller.subject),
                    approved_minor: None,
                    note: note.as_deref(),
                };
                (change, r.amount_minor)
            }
            Move::Cancel => (Change::Cancel, r.amount_minor),
        };
        // Review is in the audit trail only; the other moves publish their event.
        let published = i64::from(!matches!(mv, Move::Review));
        let updated = store::set_status(&mut tx, id, (r.status, to), &change, published, now)
            .await?
            .ok_or_else(|| ApiError::conflict("illegal_move", "the request changed meanwhile; read it again"))?;
        let roles = role_names(caller);
        audit::append(
            &mut tx,
            &[Entry {
                request_id: id,
                at: now,
                action: mv.step().as_str(),
                from: Some(r.status),
                to,
                amount_minor: Some(amount),
                currency: &r.currency,
                policy_version: r.policy_version,
                actor_id: Some(caller.subject),
                actor_roles: &roles,
                note: note.as_deref(),
            }],
        )
        .await?;
        let stamp = events::Stamp {
            actor: Some(caller.subject),
            note: note.as_deref(),
            at: now,
        };
        let (outbox, seq) = (&self.platform.outbox, updated.version);
        match mv {
            Move::Review => {}
            Move::Approve { .. } => {
                outbox
                    .stage_sequenced(&mut tx, events::approved(&updated, &e, stamp), seq)
                    .await?;
            }
            Move::Reject { .. } => {
                outbox
                    .stage_sequenced(&mut tx, events::rejected(&updated, &e, stamp), seq)
                    .await?;
            }
            Move::Cancel => {
                outbox
                    .stage_sequenced(&mut tx, events::cancelled(&updated, &e, stamp), seq)
                    .await?;
            }
        }
        outbox.commit(tx).await?;
        tracing::info!(request_id = %id, from = r.status.as_str(), to = to.as_str(), amount_minor = amount, "refund request moved");
        Ok(updated)
    }

    /// The audit trail of request `id`, oldest first.
    pub async fn audit_trail(&self, id: Uuid) -> Result<Vec<AuditRow>, ApiError> {
        if store::get(&self.platform.pool, id).await?.is_none() {
            return Err(ApiError::not_found("refund request"));
        }
        Ok(audit::of_request(&self.platform.pool, id).await?)
    }
}
