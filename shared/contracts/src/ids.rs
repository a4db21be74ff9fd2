//! Typed identifiers. Each wraps a UUID and serializes as the bare UUID string, so the wire
//! format is unchanged, but a ticket id cannot be passed where an agent id is expected.
//!
//! With the `sqlx` feature they bind and decode as Postgres `uuid`; with `utoipa` they appear in
//! OpenAPI documents as `string` / `uuid`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
        #[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema), schema(value_type = String, format = Uuid))]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered id (UUIDv7).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self(Uuid::nil())
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A ticket (intake's aggregate; routing and notifications refer to it).
    TicketId
);
id_type!(
    /// A customer: a student, parent, teacher or institution contact.
    CustomerId
);
id_type!(
    /// A member of staff as routing knows them: an agent, or the supervisor of a team.
    AgentId
);
id_type!(
    /// A group of tickets about one incident (intake).
    IncidentId
);
id_type!(
    /// A message on a ticket's thread (intake).
    MessageId
);
id_type!(
    /// A knowledge-base article (intake).
    ArticleId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_serialize_as_bare_uuids() {
        let raw = Uuid::now_v7();
        let id = TicketId::from(raw);
        assert_eq!(serde_json::to_string(&id).expect("serialize"), format!("\"{raw}\""));
        let back: TicketId = serde_json::from_str(&format!("\"{raw}\"")).expect("deserialize");
        assert_eq!(back, id);
        assert_eq!(id.to_string().parse::<TicketId>().expect("parse"), id);
        assert!("not-a-uuid".parse::<AgentId>().is_err());
    }
}
