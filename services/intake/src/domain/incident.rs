//! Incidents: many tickets about one fault, resolved together.

crate::domain::text_enum! {
    /// An incident is open until an agent resolves it (and every open ticket linked to it).
    pub enum IncidentStatus {
        Open = "open",
        Resolved = "resolved",
    }
}
