//! Which live queue a ticket waits in, and its place there.
//!
//! A queue is a sorted set ordered by score: the time the ticket entered, in milliseconds,
//! moved earlier by its priority, so an urgent ticket overtakes normal ones that waited less
//! than the boost.

use chrono::{DateTime, Utc};
use contracts::vocabulary::Priority;

use crate::RoutingSettings;

/// The queue for a ticket: senior agents' for high-emotion tickets, else its category's queue
/// when it has one, else the default.
pub fn queue_for(category: Option<&str>, high_emotion: bool, settings: &RoutingSettings) -> String {
    if high_emotion {
        return settings.senior_queue.clone();
    }
    match category {
        Some(c) if is_valid_name(c) => c.to_owned(),
        _ => settings.default_queue.clone(),
    }
}

/// The ticket's score in its queue; lower is served first.
pub fn score(enqueued_at: DateTime<Utc>, priority: Priority, settings: &RoutingSettings) -> f64 {
    let boost_secs = match priority {
        Priority::Urgent => settings.urgent_priority_boost_secs,
        Priority::High => settings.high_priority_boost_secs,
        Priority::Normal => 0,
        Priority::Low => 0,
    };
    let low_penalty_ms = if priority == Priority::Low { 60_000 } else { 0 };
    (enqueued_at.timestamp_millis() - i64::from(boost_secs) * 1000 + low_penalty_ms) as f64
}

/// Queue names are short slugs, safe in Redis keys and URLs.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> RoutingSettings {
        RoutingSettings {
            default_queue: "general".into(),
            senior_queue: "senior".into(),
            presence_ttl_secs: 30,
            high_priority_boost_secs: 300,
            urgent_priority_boost_secs: 900,
        }
    }

    #[test]
    fn a_category_names_its_queue_else_the_default() {
        assert_eq!(queue_for(Some("technical"), false, &settings()), "technical");
        assert_eq!(queue_for(None, false, &settings()), "general");
        assert_eq!(queue_for(Some("Bad Name!"), false, &settings()), "general");
        assert_eq!(queue_for(Some("complaint"), true, &settings()), "senior");
    }

    #[test]
    fn priority_moves_a_ticket_ahead_of_older_ones() {
        let now = Utc::now();
        let older_normal = score(now - chrono::Duration::seconds(120), Priority::Normal, &settings());
        let newer_high = score(now, Priority::High, &settings());
        let newer_urgent = score(now, Priority::Urgent, &settings());
        assert!(
            newer_high < older_normal,
            "high overtakes a normal ticket two minutes older"
        );
        assert!(newer_urgent < newer_high);
        let much_older_normal = score(now - chrono::Duration::seconds(600), Priority::Normal, &settings());
        assert!(
            much_older_normal < newer_high,
            "but not one that waited longer than the boost"
        );
        assert!(score(now, Priority::Low, &settings()) > score(now, Priority::Normal, &settings()));
    }
}
