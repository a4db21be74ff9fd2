//! Filing a refund request: the enrolment verified, the policy's quote stored with the
//! request, who must decide chosen, and an automatic approval inside the cooling-off period.
//! Reading and listing requests.

use contracts::TicketId;
use platform::auth::Principal;
use platform::pagination::After;
use platform::{ApiError, Tx};
use uuid::Uuid;

use super::enrolments::facts;
use super::policies::policy_for;
use super::{Refunds, is_customer_only, role_names};
use crate::domain::policy::{Situation, evaluate, explain_text};
use crate::domain::request::{self, ValidRequest};
use crate::domain::workflow::{self, Decider, Status, Step};
use crate::events;
use crate::store::audit::{self, Entry};
use crate::store::enrolments;
use crate::store::requests::{self as store, Filter, NewRequestRow, OPEN_REQUEST_INDEX, RequestRow};

/// A request to file.
#[derive(Debug, Clone)]
pub struct Filing {
    pub enrolment_id: Uuid,
    pub ticket_id: Option<TicketId>,
    pub request: ValidRequest,
}

/// Why a filing was refused.
#[derive(Debug)]
pub enum Refused {
    /// The enrolment has a request waiting for a decision: this one (409).
    OpenRequest(Uuid),
    Other(ApiError),
}

impl From<ApiError> for Refused {
    fn from(e: ApiError) -> Self {
        Self::Other(e)
    }
}

impl From<sqlx::Error> for Refused {
    fn from(e: sqlx::Error) -> Self {
        Self::Other(e.into())
    }
}

/// The note of an automatic approval in the audit trail.
const AUTOMATIC: &str = "approved automatically: inside the cooling-off period and within auto_max_minor";

impl Refunds {
    /// Files `f` for `caller` in `tx` (the request's idempotency transaction): a customer for
    /// their own enrolment (another's, or an unknown one, is a 404), the desk for any. The
    /// enrolment stays locked until the transaction ends, so filings, approvals and
    /// cancellations of one enrolment happen one at a time; nothing is written when the
    /// filing is refused.
    pub async fn file(&self, tx: &mut Tx, caller: &Principal, f: &Filing) -> Result<RequestRow, Refused> {
        let customer_only = is_customer_only(caller);
        let e = enrolments::lock(tx, f.enrolment_id)
            .await?
            .filter(|e| !customer_only || Uuid::from(e.customer_id) == caller.subject)
            .ok_or_else(|| ApiError::not_found("enrolment"))?;
        let r = &f.request;
        if let Some(currency) = &r.currency
            && *currency != e.currency
        {
            return Err(ApiError::field("currency", format!("must be the payment's currency, {}", e.currency)).into());
        }
        let state = enrolments::refund_state(&mut **tx, e.id).await?;
        if let Some(open) = state.open_request_id {
            return Err(Refused::OpenRequest(open));
        }
        let policy = policy_for(&mut **tx, &e).await?;
        let now = self.now();
        let quote = evaluate(
            &policy.rules,
            &facts(&e, state.refunded_minor),
            &Situation {
                reason: r.reason,
                at: now,
            },
        );
        let remaining = e.paid_minor.saturating_sub(state.refunded_minor);
        let amount = request::requested_amount(
            r.amount_minor,
            quote.amount_minor,
            remaining,
            !customer_only,
            &e.currency,
        )?;
        let special = request::is_special(amount, quote.amount_minor, r.reason, quote.in_cooling_off);
        let decider = workflow::decider(amount, quote.in_cooling_off, special, &self.approval);
        let automatic = decider == Decider::Automatic;
        let status = if automatic {
            workflow::next(Status::Requested, Step::Approve).map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?
        } else {
            Status::Requested
        };
        let inserted = store::insert(
            tx,
            &NewRequestRow {
                id: Uuid::now_v7(),
                enrolment_id: e.id,
                customer_id: e.customer_id,
                ticket_id: f.ticket_id,
                reason: r.reason,
                comment: &r.comment,
                status,
                amount_minor: amount,
                currency: &e.currency,
                quote_minor: quote.amount_minor,
                quote_lines: &quote.lines,
                in_cooling_off: quote.in_cooling_off,
                policy_version: policy.version,
                decider,
                approved_minor: automatic.then_some(amount),
                filed_by: caller.subject,
                decided_at: automatic.then_some(now),
                // submitted, quoted (and approved)
                version: if automatic { 3 } else { 2 },
                now,
            },
        )
        .await;
        let row = match inserted {
            Ok(row) => row,
            Err(sqlx::Error::Database(d)) if d.constraint() == Some(OPEN_REQUEST_INDEX) => {
                // A filing that did not hold the enrolment's lock won; it has committed.
                let open = enrolments::refund_state(&self.platform.pool, e.id)
                    .await?
                    .open_request_id;
                return Err(open.map_or_else(
                    || {
                        Refused::Other(ApiError::conflict(
                            "open_request_exists",
                            "the enrolment has an open request",
                        ))
                    },
                    Refused::OpenRequest,
                ));
            }
            Err(e) => return Err(e.into()),
        };

        let roles = role_names(caller);
        let explanation = explain_text(&quote);
        let mut trail = vec![
            Entry {
                request_id: row.id,
                at: now,
                action: "submit",
                from: None,
                to: Status::Requested,
                amount_minor: Some(amount),
                currency: &row.currency,
                policy_version: row.policy_version,
                actor_id: Some(caller.subject),
                actor_roles: &roles,
                note: Some(&row.comment).filter(|c| !c.is_empty()).map(String::as_str),
            },
            Entry {
                request_id: row.id,
                at: now,
                action: "quote",
                from: Some(Status::Requested),
                to: Status::Requested,
                amount_minor: Some(quote.amount_minor),
                currency: &row.currency,
                policy_version: row.policy_version,
                actor_id: None,
                actor_roles: &[],
                note: Some(&explanation),
            },
        ];
        if automatic {
            trail.push(Entry {
                request_id: row.id,
                at: now,
                action: "approve",
                from: Some(Status::Requested),
                to: Status::Approved,
                amount_minor: Some(amount),
                currency: &row.currency,
                policy_version: row.policy_version,
                actor_id: None,
                actor_roles: &[],
                note: Some(AUTOMATIC),
            });
        }
        audit::append(tx, &trail).await?;

        let by = events::Stamp {
            actor: Some(caller.subject),
            note: None,
            at: now,
        };
        let outbox = &self.platform.outbox;
        outbox.stage_sequenced(tx, events::submitted(&row, &e, by), 1).await?;
        let by_policy = events::Stamp { actor: None, ..by };
        outbox
            .stage_sequenced(tx, events::quoted(&row, &e, by_policy), 2)
            .await?;
        if automatic {
            let automatically = events::Stamp {
                note: Some(AUTOMATIC),
                ..by_policy
            };
            outbox
                .stage_sequenced(tx, events::approved(&row, &e, automatically), 3)
                .await?;
        }
        tracing::info!(
            request_id = %row.id,
            enrolment_id = %e.id,
            amount_minor = amount,
            quote_minor = quote.amount_minor,
            decider = decider.as_str(),
            status = row.status.as_str(),
            "refund request filed"
        );
        Ok(row)
    }

    /// Request `id`, if the caller may read it (a customer reads only their own).
    pub async fn request(&self, caller: &Principal, id: Uuid) -> Result<RequestRow, ApiError> {
        store::get(&self.platform.pool, id)
            .await?
            .filter(|r| caller.may_read_customer(r.customer_id))
            .ok_or_else(|| ApiError::not_found("refund request"))
    }

    /// A page of requests, newest first; a customer's list holds only their own.
    pub async fn requests(
        &self,
        caller: &Principal,
        mut filter: Filter,
        limit: i64,
        after: Option<After>,
    ) -> Result<Vec<RequestRow>, ApiError> {
        if is_customer_only(caller) {
            if filter.customer_id.is_some_and(|c| c != caller.subject) {
                return Ok(Vec::new());
            }
            filter.customer_id = Some(caller.subject);
        }
        Ok(store::list(&self.platform.pool, &filter, limit, after).await?)
    }
}
