//! The states of a delivery and of its attempts, stored as text and shown as the same
//! snake_case strings in JSON.

use serde::{Deserialize, Serialize};

/// A text-backed enum: `ALL`, `as_str`, `parse`, `Display`, and `TryFrom<String>` (for reading
/// the text column).
macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$(Self::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|x| x.as_str() == s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;

            fn try_from(s: String) -> Result<Self, String> {
                Self::parse(&s).ok_or_else(|| format!("unknown {} `{s}`", stringify!($name)))
            }
        }
    };
}

text_enum! {
    /// Where a delivery is in the pipeline.
    DeliveryStatus {
        /// Waiting until `next_attempt_at` (new, held through quiet hours, or retried later).
        Pending = "pending",
        /// Claimed by a dispatcher until `next_attempt_at` (the lease).
        Sending = "sending",
        Delivered = "delivered",
        /// Given up on (an error that will not pass, or the retries are spent); can be resent.
        Failed = "failed",
        /// Not sent: the recipient opted out.
        Suppressed = "suppressed",
        /// Folded into a digest, which is sent instead.
        Digested = "digested",
        /// A scheduled direct send cancelled before it went out.
        Cancelled = "cancelled",
    }
}

text_enum! {
    /// What caused a delivery.
    Source {
        /// A consumed event (through a rule or a webhook subscription).
        Event = "event",
        /// A direct send through `/v1/messages`.
        Api = "api",
    }
}

text_enum! {
    /// How one attempt ended.
    AttemptOutcome {
        Delivered = "delivered",
        /// Failed in a way worth trying again.
        Retry = "retry",
        Failed = "failed",
        /// The receiver is gone for good (HTTP 410).
        Gone = "gone",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_their_snake_case_strings() {
        for s in DeliveryStatus::ALL {
            assert_eq!(serde_json::to_value(s).expect("json"), s.as_str());
            assert_eq!(DeliveryStatus::try_from(s.as_str().to_owned()), Ok(*s));
        }
        assert_eq!(DeliveryStatus::parse("sent"), None);
        assert_eq!(serde_json::to_value(AttemptOutcome::Retry).expect("json"), "retry");
        assert_eq!(Source::parse("api"), Some(Source::Api));
    }
}
