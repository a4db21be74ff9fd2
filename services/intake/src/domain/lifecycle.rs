//! The ticket lifecycle: statuses, the transitions between them and who may make each.
//!
//! new → auto_answered → queued → assigned → in_progress ⇄ waiting_on_customer → resolved →
//! closed; a resolved ticket can be reopened within a window; anything not yet resolved can be
//! cancelled. Transitions are the only way to change a status, and each is applied in SQL
//! only from the statuses it allows (`... WHERE status = ANY(from)`), so two replicas or two
//! clicks cannot both win.

use contracts::CustomerId;
use platform::auth::{Principal, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A ticket's status: the wire contract's enum is intake's state enum.
pub use contracts::vocabulary::TicketStatus as Status;

/// Timing rules of the lifecycle (from the `[service]` settings).
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub auto_close_after_hours: u32,
    pub reopen_window_hours: u32,
    pub follow_up_after_hours: u32,
}

/// Every allowed kind of status change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The knowledge base answered it; waiting for the customer's verdict.
    AutoAnswer,
    /// Handed to people: waits in a routing queue.
    Queue,
    /// An agent took it.
    Assign,
    /// The agent started working on it.
    Start,
    /// The agent needs something from the customer.
    WaitOnCustomer,
    /// The customer answered (also done by a customer's message).
    CustomerReplied,
    Resolve,
    /// The customer confirms, or the quiet period after resolution passed.
    Close,
    /// Not solved after all (within the reopen window).
    Reopen,
    Cancel,
}

impl Action {
    pub const ALL: [Action; 10] = [
        Self::AutoAnswer,
        Self::Queue,
        Self::Assign,
        Self::Start,
        Self::WaitOnCustomer,
        Self::CustomerReplied,
        Self::Resolve,
        Self::Close,
        Self::Reopen,
        Self::Cancel,
    ];

    /// The statuses this action applies from, and the status it leads to.
    pub fn rule(self) -> (&'static [Status], Status) {
        use Status::*;
        match self {
            Self::AutoAnswer => (&[New], AutoAnswered),
            Self::Queue => (&[New, AutoAnswered], Queued),
            Self::Assign => (&[Queued, Assigned], Assigned),
            Self::Start => (&[Assigned, Queued], InProgress),
            Self::WaitOnCustomer => (&[InProgress], WaitingOnCustomer),
            Self::CustomerReplied => (&[WaitingOnCustomer], InProgress),
            Self::Resolve => (
                &[AutoAnswered, Queued, Assigned, InProgress, WaitingOnCustomer],
                Resolved,
            ),
            Self::Close => (&[Resolved], Closed),
            Self::Reopen => (&[Resolved], Queued),
            Self::Cancel => (
                &[New, AutoAnswered, Queued, Assigned, InProgress, WaitingOnCustomer],
                Cancelled,
            ),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AutoAnswer => "auto_answer",
            Self::Queue => "queue",
            Self::Assign => "assign",
            Self::Start => "start",
            Self::WaitOnCustomer => "wait_on_customer",
            Self::CustomerReplied => "customer_replied",
            Self::Resolve => "resolve",
            Self::Close => "close",
            Self::Reopen => "reopen",
            Self::Cancel => "cancel",
        }
    }

    /// Whether `caller` may take this action on a ticket of `customer_id`.
    pub fn allowed_for(self, caller: &Principal, customer_id: CustomerId) -> bool {
        let owner = CustomerId::from(caller.subject) == customer_id && caller.has(Role::Customer);
        let staff = caller.is_desk();
        let system = caller.has(Role::Service);
        match self {
            Self::AutoAnswer | Self::Queue | Self::Assign => system || caller.has_any(&[Role::Supervisor, Role::Admin]),
            Self::Start | Self::WaitOnCustomer | Self::Resolve => staff || system,
            Self::CustomerReplied => owner || system,
            Self::Close | Self::Reopen | Self::Cancel => owner || staff || system,
        }
    }
}

/// Why a transition cannot happen from `from`.
pub fn refusal(action: Action, from: Status) -> String {
    let (allowed, _) = action.rule();
    let names: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
    format!(
        "cannot {} a ticket that is {}; allowed from: {}",
        action.as_str().replace('_', " "),
        from.as_str(),
        names.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn who(role: Role) -> Principal {
        Principal::new(Uuid::new_v4(), &[role])
    }

    #[test]
    fn every_status_round_trips_and_terminal_ones_have_no_way_out() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        for action in Action::ALL {
            let (from, to) = action.rule();
            assert!(
                from.iter().all(|s| !s.is_terminal()),
                "{action:?} leaves a terminal status"
            );
            assert!(!from.contains(&to) || action == Action::Assign, "{action:?} is a no-op");
        }
    }

    #[test]
    fn the_main_path_is_connected() {
        use Action::*;
        let path = [Queue, Assign, Start, WaitOnCustomer, CustomerReplied, Resolve, Close];
        let mut status = Status::New;
        for action in path {
            let (from, to) = action.rule();
            assert!(from.contains(&status), "{action:?} from {status:?}");
            status = to;
        }
        assert_eq!(status, Status::Closed);
    }

    #[test]
    fn customers_act_only_on_their_own_tickets_and_not_as_agents() {
        let customer = who(Role::Customer);
        assert!(Action::Cancel.allowed_for(&customer, customer.subject.into()));
        assert!(!Action::Cancel.allowed_for(&customer, CustomerId::new()));
        assert!(!Action::Resolve.allowed_for(&customer, customer.subject.into()));
        assert!(Action::Resolve.allowed_for(&who(Role::Agent), CustomerId::new()));
        assert!(!Action::Queue.allowed_for(&who(Role::Agent), CustomerId::new()));
        assert!(refusal(Action::Resolve, Status::Closed).contains("closed"));
    }
}
