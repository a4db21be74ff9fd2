//! Which event produces which notification, to whom and on which channels.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// Channels a rule can name (webhooks go to subscribed endpoints, not through rules).
pub const CHANNELS: [&str; 3] = ["in_app", "email", "sms"];

/// How a message may be held back.
pub const URGENCIES: [&str; 4] = ["urgent", "transactional", "normal", "low"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Rule {
    /// Unique name (`ticket-received`).
    pub name: String,
    /// The event type it reacts to (`routing.ticket.queued`).
    pub event_type: String,
    /// JSON pointers into the event's data and the values they must equal.
    #[sqlx(json)]
    #[schema(value_type = Object)]
    pub conditions: BTreeMap<String, Value>,
    /// JSON pointer to the recipient's id in the event's data (`/customer_id`).
    pub recipient: String,
    /// The template family it renders (`ticket_received`).
    pub notification: String,
    pub channels: Vec<String>,
    /// What recipients can opt out of (`progress`); transactional and urgent rules ignore
    /// opt-outs.
    pub category: String,
    /// `urgent` (sent at once, any hour), `transactional` (cannot be opted out of),
    /// `normal` or `low` (held through quiet hours).
    pub urgency: String,
    /// Messages of this rule to one recipient within this many seconds go out as one digest.
    pub digest_secs: Option<i32>,
    pub enabled: bool,
}

impl Rule {
    /// Whether `data` (an event's payload) satisfies every condition.
    pub fn matches(&self, data: &Value) -> bool {
        self.enabled
            && self
                .conditions
                .iter()
                .all(|(pointer, want)| data.pointer(pointer) == Some(want))
    }

    /// The recipient named by the event, if the pointer leads to an id.
    pub fn recipient_in(&self, data: &Value) -> Option<Uuid> {
        data.pointer(&self.recipient)
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
    }
}

/// Whether a recipient's opt-outs silence a message of `category` and `urgency` on `channel`
/// (urgent and transactional messages are never silenced).
pub fn opted_out(category: &str, urgency: &str, opt_outs: &[String], channel: &str) -> bool {
    if matches!(urgency, "urgent" | "transactional") {
        return false;
    }
    opt_outs.iter().any(|o| {
        o.split_once(':')
            .is_some_and(|(c, ch)| c == category && (ch == channel || ch == "*"))
    })
}

/// Whether a message of `urgency` waits through quiet hours on `channel` (email and SMS
/// interrupt; the inbox does not).
pub fn waits_for_morning(urgency: &str, channel: &str) -> bool {
    urgency != "urgent" && channel != "in_app"
}

/// Whether an endpoint subscribed with `patterns` gets `event_type` (`intake.*` is a prefix).
pub fn subscribed(patterns: &[String], event_type: &str) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => event_type.starts_with(prefix),
        None => p == event_type,
    })
}

/// Event types whose data carries personal data beyond ids: a new ticket's subject (the
/// customer's own words) and profile (segments such as `special_needs`).
pub const PII_EVENT_TYPES: [&str; 1] = ["intake.ticket.created"];
/// Prefixes of event types that carry personal data: surveys (bearer survey links, comments).
pub const PII_EVENT_PREFIXES: [&str; 1] = ["intake.survey."];

/// Whether a subscription to `pattern` (an event type, or a prefix ending in `*`) would
/// receive an event that carries personal data: `*`, `intake.*`, `intake.ticket.*` and
/// `intake.survey.requested` do; `routing.*` and `intake.ticket.resolved` do not.
pub fn reaches_pii(pattern: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(base) => {
            PII_EVENT_TYPES
                .iter()
                .chain(&PII_EVENT_PREFIXES)
                .any(|t| t.starts_with(base))
                || PII_EVENT_PREFIXES.iter().any(|p| base.starts_with(p))
        }
        None => PII_EVENT_TYPES.contains(&pattern) || PII_EVENT_PREFIXES.iter().any(|p| pattern.starts_with(p)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule() -> Rule {
        Rule {
            name: "ticket-progress".into(),
            event_type: "intake.ticket.message_added".into(),
            conditions: BTreeMap::from([("/kind".to_owned(), json!("progress_update"))]),
            recipient: "/customer_id".into(),
            notification: "ticket_progress".into(),
            channels: vec!["in_app".into(), "email".into()],
            category: "progress".into(),
            urgency: "low".into(),
            digest_secs: Some(600),
            enabled: true,
        }
    }

    #[test]
    fn conditions_and_the_recipient_come_from_the_event() {
        let id = Uuid::now_v7();
        let data = json!({"kind": "progress_update", "customer_id": id});
        assert!(rule().matches(&data));
        assert_eq!(rule().recipient_in(&data), Some(id));
        assert!(!rule().matches(&json!({"kind": "message"})));
        assert_eq!(rule().recipient_in(&json!({"customer_id": "nope"})), None);
        let mut off = rule();
        off.enabled = false;
        assert!(!off.matches(&data));
    }

    #[test]
    fn opt_outs_spare_transactional_messages() {
        let r = rule();
        let outs = vec!["progress:email".to_owned()];
        assert!(opted_out(&r.category, &r.urgency, &outs, "email"));
        assert!(!opted_out(&r.category, &r.urgency, &outs, "in_app"));
        assert!(opted_out(&r.category, &r.urgency, &["progress:*".to_owned()], "in_app"));
        assert!(!opted_out(
            &r.category,
            "transactional",
            &["progress:*".to_owned()],
            "email"
        ));
        assert!(waits_for_morning(&r.urgency, "email") && !waits_for_morning("urgent", "email"));
    }

    #[test]
    fn subscriptions_take_exact_types_and_prefixes() {
        let p = vec!["intake.*".to_owned(), "routing.sla.breached".to_owned()];
        assert!(subscribed(&p, "intake.ticket.created"));
        assert!(subscribed(&p, "routing.sla.breached"));
        assert!(!subscribed(&p, "routing.sla.warning"));
    }

    #[test]
    fn subscriptions_that_reach_personal_data_are_told_apart() {
        for p in [
            "*",
            "intake.*",
            "intake.survey*",
            "intake.survey.*",
            "intake.survey.requested",
            "intake.survey.answered",
            "intake.ticket.*",
            "intake.ticket.created",
            "in*",
        ] {
            assert!(reaches_pii(p), "{p}");
        }
        for p in [
            "routing.*",
            "refund.*",
            "intake.ticket.resolved",
            "intake.ticket.status_changed",
            "intake.incident.*",
            "routing.sla.breached",
        ] {
            assert!(!reaches_pii(p), "{p}");
        }
    }
}
