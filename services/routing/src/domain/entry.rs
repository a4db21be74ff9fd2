//! A queue entry's state: where a ticket stands in routing.

use serde::Serialize;

/// `held` → `waiting` ⇄ `offered` → `assigned` → `closed`; a held, assigned or closed ticket
/// can wait again (not solved by its automatic answer, reopened, transferred to a queue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    /// Answered from the knowledge base; waits for the customer's verdict, not for an agent.
    Held,
    /// In its live queue.
    Waiting,
    /// Offered to an agent, who accepts or declines.
    Offered,
    /// An agent has it.
    Assigned,
    /// Finished with (resolved, closed, cancelled).
    Closed,
}

impl EntryStatus {
    pub const ALL: [EntryStatus; 5] = [Self::Held, Self::Waiting, Self::Offered, Self::Assigned, Self::Closed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Waiting => "waiting",
            Self::Offered => "offered",
            Self::Assigned => "assigned",
            Self::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Live: in the queues or with an agent (what a rebuild restores).
    pub fn is_live(self) -> bool {
        matches!(self, Self::Waiting | Self::Offered | Self::Assigned)
    }
}

impl std::fmt::Display for EntryStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_back_as_written() {
        for st in EntryStatus::ALL {
            assert_eq!(EntryStatus::parse(st.as_str()), Some(st));
            assert_eq!(serde_json::to_value(st).expect("json"), st.as_str());
        }
        assert_eq!(EntryStatus::parse("queued"), None);
    }
}
