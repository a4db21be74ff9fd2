//! Which live queue a ticket waits in, and its place there.
//!
//! A queue is a sorted set ordered by score: the time the ticket entered, in milliseconds,
//! moved earlier by its priority, so an urgent ticket overtakes normal ones that waited less
//! than the boost.

use chrono::{DateTime, Utc};
use contracts::vocabulary::Priority;

/// What moves a ticket ahead in its queue.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Standing {
    pub vip: bool,
    pub high_emotion: bool,
    /// Its service-level clock gave the warning.
    pub near_breach: bool,
}

/// How far each reason moves a ticket ahead, in seconds of waiting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Boosts {
    pub high_priority_secs: u32,
    pub urgent_priority_secs: u32,
    pub vip_secs: u32,
    pub high_emotion_secs: u32,
    pub near_breach_secs: u32,
}

/// The ticket's score in its queue; lower is served first.
pub fn score(enqueued_at: DateTime<Utc>, priority: Priority, standing: Standing, boosts: &Boosts) -> f64 {
    let mut boost_secs = match priority {
        Priority::Urgent => boosts.urgent_priority_secs,
        Priority::High => boosts.high_priority_secs,
        Priority::Normal => 0,
        Priority::Low => 0,
    };
    if standing.vip {
        boost_secs += boosts.vip_secs;
    }
    if standing.high_emotion {
        boost_secs += boosts.high_emotion_secs;
    }
    if standing.near_breach {
        boost_secs += boosts.near_breach_secs;
    }
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

    /// The boosts `config/default.toml` sets.
    fn settings() -> Boosts {
        let text = include_str!("../../config/default.toml");
        let doc: toml::Value = toml::from_str(text).expect("toml");
        let secs = |key: &str| u32::try_from(doc["service"][key].as_integer().expect(key)).expect(key);
        Boosts {
            high_priority_secs: secs("high_priority_boost_secs"),
            urgent_priority_secs: secs("urgent_priority_boost_secs"),
            vip_secs: secs("vip_boost_secs"),
            high_emotion_secs: secs("high_emotion_boost_secs"),
            near_breach_secs: secs("near_breach_boost_secs"),
        }
    }

    const NONE: Standing = Standing {
        vip: false,
        high_emotion: false,
        near_breach: false,
    };

    #[test]
    fn priority_moves_a_ticket_ahead_of_older_ones() {
        let s = settings();
        let now = Utc::now();
        let older_normal = score(now - chrono::Duration::seconds(120), Priority::Normal, NONE, &s);
        let newer_high = score(now, Priority::High, NONE, &s);
        let newer_urgent = score(now, Priority::Urgent, NONE, &s);
        assert!(
            newer_high < older_normal,
            "high overtakes a normal ticket two minutes older"
        );
        assert!(newer_urgent < newer_high);
        let much_older_normal = score(now - chrono::Duration::seconds(600), Priority::Normal, NONE, &s);
        assert!(
            much_older_normal < newer_high,
            "but not one that waited longer than the boost"
        );
        assert!(score(now, Priority::Low, NONE, &s) > score(now, Priority::Normal, NONE, &s));
    }

    #[test]
    fn vip_high_emotion_and_near_breach_move_ahead() {
        let s = settings();
        let now = Utc::now();
        let older = score(now - chrono::Duration::seconds(240), Priority::Normal, NONE, &s);
        let vip = Standing { vip: true, ..NONE };
        assert!(score(now, Priority::Normal, vip, &s) < older);
        let upset = Standing {
            high_emotion: true,
            ..NONE
        };
        assert!(score(now, Priority::Normal, upset, &s) < older);
        let late = Standing {
            near_breach: true,
            ..NONE
        };
        assert!(score(now, Priority::Normal, late, &s) < older);
    }

    #[test]
    fn queue_names_are_slugs() {
        assert!(is_valid_name("technical"));
        assert!(is_valid_name("vip-chat_2"));
        assert!(!is_valid_name("Bad Name!"));
        assert!(!is_valid_name(""));
    }
}
