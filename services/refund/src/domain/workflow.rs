//! A refund request's life as a typed state machine, and who may decide it.
//!
//! ```text
//! requested ──review──▶ under_review ──approve──▶ approved ──payout──▶ payout_pending ──▶ paid ──close──▶ closed
//!     │                      │   └──reject──▶ rejected                      └──▶ payout_failed ──close──▶ closed
//!     └──approve / reject / cancel (the customer, before approval) ──▶ …          (retry ──▶ payout_pending)
//! ```
//!
//! An illegal move is refused and changes nothing (the API answers 409).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Status {
    Requested,
    UnderReview,
    Approved,
    Rejected,
    PayoutPending,
    Paid,
    PayoutFailed,
    Closed,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 9] = [
        Self::Requested,
        Self::UnderReview,
        Self::Approved,
        Self::Rejected,
        Self::PayoutPending,
        Self::Paid,
        Self::PayoutFailed,
        Self::Closed,
        Self::Cancelled,
    ];

    /// The status named `s` (`under_review`).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::UnderReview => "under_review",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::PayoutPending => "payout_pending",
            Self::Paid => "paid",
            Self::PayoutFailed => "payout_failed",
            Self::Closed => "closed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Still waiting for a decision: at most one such request per enrolment.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Requested | Self::UnderReview)
    }

    /// Money decided for the customer: counts against what is left to refund.
    pub fn commits_money(self) -> bool {
        matches!(self, Self::Approved | Self::PayoutPending | Self::Paid)
    }

    /// Nothing more happens to the request.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Rejected | Self::Closed | Self::Cancelled)
    }
}

/// What someone does to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// A reviewer takes the request.
    Review,
    Approve,
    Reject,
    /// The customer withdraws it (before approval).
    Cancel,
    /// The payout is started.
    Payout,
    PayoutSucceeded,
    PayoutFailed,
    /// A failed payout is tried again.
    RetryPayout,
    Close,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Review => "review",
            Self::Approve => "approve",
            Self::Reject => "reject",
            Self::Cancel => "cancel",
            Self::Payout => "payout",
            Self::PayoutSucceeded => "payout_succeeded",
            Self::PayoutFailed => "payout_failed",
            Self::RetryPayout => "retry_payout",
            Self::Close => "close",
        }
    }
}

/// A move the state machine does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a request that is {} cannot {}", from.as_str(), step.as_str())]
pub struct IllegalMove {
    pub from: Status,
    pub step: Step,
}

/// Where `step` takes a request that is `from`.
pub fn next(from: Status, step: Step) -> Result<Status, IllegalMove> {
    use Status as S;
    use Step as T;
    let to = match (from, step) {
        (S::Requested, T::Review) => S::UnderReview,
        (S::Requested | S::UnderReview, T::Approve) => S::Approved,
        (S::Requested | S::UnderReview, T::Reject) => S::Rejected,
        (S::Requested | S::UnderReview, T::Cancel) => S::Cancelled,
        (S::Approved, T::Payout) | (S::PayoutFailed, T::RetryPayout) => S::PayoutPending,
        (S::PayoutPending, T::PayoutSucceeded) => S::Paid,
        (S::PayoutPending, T::PayoutFailed) => S::PayoutFailed,
        (S::Paid | S::PayoutFailed, T::Close) => S::Closed,
        _ => return Err(IllegalMove { from, step }),
    };
    Ok(to)
}

/// The approval limits (settings `[service.approval]`).
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalLimits {
    /// Approved without anyone when inside cooling-off and at most this much (minor units).
    pub auto_max_minor: i64,
    /// An agent approves up to this much; more needs a supervisor.
    pub agent_max_minor: i64,
}

/// Who decides: nobody (approved at once), an agent, or a supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Decider {
    Automatic,
    Agent,
    Supervisor,
}

impl Decider {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Automatic => "automatic",
            Self::Agent => "agent",
            Self::Supervisor => "supervisor",
        }
    }
}

/// Who must decide a request for `amount_minor`: `special` is a request outside the policy's
/// amount (an agent asks for more than the quote) or for a reason the policy does not cover.
pub fn decider(amount_minor: i64, in_cooling_off: bool, special: bool, limits: &ApprovalLimits) -> Decider {
    if special || amount_minor > limits.agent_max_minor {
        Decider::Supervisor
    } else if in_cooling_off && amount_minor <= limits.auto_max_minor {
        Decider::Automatic
    } else {
        Decider::Agent
    }
}

/// Why a caller may not decide a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionRefused {
    #[error("four eyes: whoever filed or reviewed a request cannot approve it")]
    FourEyes,
    #[error("this request needs a supervisor's decision")]
    NeedsSupervisor,
}

/// Whether `approver` (a supervisor when `is_supervisor`) may approve a request filed by
/// `filed_by` and reviewed by `reviewed_by` that needs `needed`.
pub fn may_approve(
    approver: Uuid,
    is_supervisor: bool,
    filed_by: Uuid,
    reviewed_by: Option<Uuid>,
    needed: Decider,
) -> Result<(), DecisionRefused> {
    if approver == filed_by || reviewed_by == Some(approver) {
        return Err(DecisionRefused::FourEyes);
    }
    if needed == Decider::Supervisor && !is_supervisor {
        return Err(DecisionRefused::NeedsSupervisor);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEPS: [Step; 9] = [
        Step::Review,
        Step::Approve,
        Step::Reject,
        Step::Cancel,
        Step::Payout,
        Step::PayoutSucceeded,
        Step::PayoutFailed,
        Step::RetryPayout,
        Step::Close,
    ];

    #[test]
    fn the_happy_path_reaches_closed_and_final_states_go_nowhere() {
        let mut s = Status::Requested;
        for step in [
            Step::Review,
            Step::Approve,
            Step::Payout,
            Step::PayoutSucceeded,
            Step::Close,
        ] {
            s = next(s, step).expect("legal");
        }
        assert_eq!(s, Status::Closed);
        for from in Status::ALL.into_iter().filter(|s| s.is_final()) {
            for step in STEPS {
                assert!(next(from, step).is_err(), "{from:?} {step:?}");
            }
        }
    }

    #[test]
    fn a_customer_cancels_only_before_approval() {
        assert_eq!(next(Status::UnderReview, Step::Cancel), Ok(Status::Cancelled));
        let err = next(Status::Approved, Step::Cancel).expect_err("too late");
        assert_eq!(err.to_string(), "a request that is approved cannot cancel");
    }

    #[test]
    fn deciders_follow_the_limits_and_four_eyes_holds() {
        let limits = ApprovalLimits {
            auto_max_minor: 100_000,
            agent_max_minor: 300_000,
        };
        assert_eq!(decider(50_000, true, false, &limits), Decider::Automatic);
        assert_eq!(decider(50_000, false, false, &limits), Decider::Agent);
        assert_eq!(decider(200_000, true, false, &limits), Decider::Agent);
        assert_eq!(decider(300_001, false, false, &limits), Decider::Supervisor);
        assert_eq!(decider(10, true, true, &limits), Decider::Supervisor);
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(
            may_approve(a, true, a, None, Decider::Agent),
            Err(DecisionRefused::FourEyes)
        );
        assert_eq!(
            may_approve(b, true, a, Some(b), Decider::Agent),
            Err(DecisionRefused::FourEyes)
        );
        assert_eq!(
            may_approve(c, false, a, Some(b), Decider::Supervisor),
            Err(DecisionRefused::NeedsSupervisor)
        );
        assert_eq!(may_approve(c, true, a, Some(b), Decider::Supervisor), Ok(()));
    }
}
