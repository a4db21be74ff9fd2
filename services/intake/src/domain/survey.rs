//! Follow-up visits after a resolution.

crate::domain::text_enum! {
    /// A follow-up visit waits (`pending`) until an agent records its outcome (`done`), or the
    /// ticket is reopened first (`cancelled`).
    pub enum FollowUpStatus {
        Pending = "pending",
        Done = "done",
        Cancelled = "cancelled",
    }
}
