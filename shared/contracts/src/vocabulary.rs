//! Enumerations shared on the wire. Serialized as snake_case strings.

use serde::{Deserialize, Serialize};

/// The channel a contact came in through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Web form or message board.
    Web,
    /// Live chat.
    Chat,
    Email,
    /// Phone call logged by an agent.
    Phone,
    /// Walk-in visit logged by an agent.
    WalkIn,
    /// The company's own systems, over the API.
    Api,
}

impl Channel {
    pub const ALL: [Channel; 6] = [Self::Web, Self::Chat, Self::Email, Self::Phone, Self::WalkIn, Self::Api];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Chat => "chat",
            Self::Email => "email",
            Self::Phone => "phone",
            Self::WalkIn => "walk_in",
            Self::Api => "api",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Ticket priority, lowest to highest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 4] = [Self::Low, Self::Normal, Self::High, Self::Urgent];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
            Self::Urgent => "urgent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// A ticket's status in intake's lifecycle (see intake's `domain::lifecycle`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    New,
    AutoAnswered,
    Queued,
    Assigned,
    InProgress,
    WaitingOnCustomer,
    Resolved,
    Closed,
    Cancelled,
}

impl TicketStatus {
    pub const ALL: [TicketStatus; 9] = [
        Self::New,
        Self::AutoAnswered,
        Self::Queued,
        Self::Assigned,
        Self::InProgress,
        Self::WaitingOnCustomer,
        Self::Resolved,
        Self::Closed,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::AutoAnswered => "auto_answered",
            Self::Queued => "queued",
            Self::Assigned => "assigned",
            Self::InProgress => "in_progress",
            Self::WaitingOnCustomer => "waiting_on_customer",
            Self::Resolved => "resolved",
            Self::Closed => "closed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Closed and cancelled tickets never change again.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Closed | Self::Cancelled)
    }

    /// Resolved, closed or cancelled: nobody is working on it.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Resolved | Self::Closed | Self::Cancelled)
    }
}

impl std::fmt::Display for TicketStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_strings_round_trip() {
        for c in Channel::ALL {
            let json = serde_json::to_string(&c).expect("serialize");
            assert_eq!(json, format!("\"{}\"", c.as_str()));
            assert_eq!(Channel::parse(c.as_str()), Some(c));
        }
        assert_eq!(Channel::parse("fax"), None);
    }

    #[test]
    fn ticket_statuses_round_trip() {
        for st in TicketStatus::ALL {
            let json = serde_json::to_string(&st).expect("serialize");
            assert_eq!(json, format!("\"{}\"", st.as_str()));
            assert_eq!(TicketStatus::parse(st.as_str()), Some(st));
        }
        assert_eq!(TicketStatus::parse("open"), None);
    }

    #[test]
    fn priorities_are_ordered() {
        assert!(Priority::Urgent > Priority::High);
        assert!(Priority::Normal > Priority::Low);
        assert_eq!(Priority::parse("high"), Some(Priority::High));
    }
}
