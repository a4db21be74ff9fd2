//! Staffing by Erlang C: how many agents a contact rate needs to meet a service target.

/// What an interval's staffing achieves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Staffing {
    pub agents: u32,
    /// Offered load in Erlangs (contacts × handle time / interval).
    pub traffic: f64,
    /// Probability a contact waits at all.
    pub wait_probability: f64,
    /// Share answered within the target time.
    pub service_level: f64,
    /// Average speed of answer, seconds.
    pub average_wait_secs: f64,
    /// Share of agents' time spent on contacts.
    pub occupancy: f64,
}

/// Erlang C for `agents` serving `traffic` Erlangs; `None` when they cannot keep up.
pub fn erlang_c(agents: u32, traffic: f64) -> Option<f64> {
    let n = f64::from(agents);
    if agents == 0 || traffic >= n {
        return None;
    }
    if traffic <= 0.0 {
        return Some(0.0);
    }
    // Erlang B by recursion (stable for large N), then C from B.
    let mut b = 1.0;
    for k in 1..=agents {
        b = traffic * b / (f64::from(k) + traffic * b);
    }
    Some(n * b / (n - traffic * (1.0 - b)))
}

/// What `agents` achieve for `contacts_per_hour` with `handle_secs` average handle time and a
/// target of answering within `answer_within_secs`.
pub fn staffing(agents: u32, contacts_per_hour: f64, handle_secs: f64, answer_within_secs: f64) -> Staffing {
    let traffic = contacts_per_hour * handle_secs / 3600.0;
    let n = f64::from(agents);
    match erlang_c(agents, traffic) {
        Some(pw) => Staffing {
            agents,
            traffic,
            wait_probability: pw,
            service_level: (1.0 - pw * (-(n - traffic) * answer_within_secs / handle_secs).exp()).clamp(0.0, 1.0),
            average_wait_secs: pw * handle_secs / (n - traffic),
            occupancy: traffic / n,
        },
        None => Staffing {
            agents,
            traffic,
            wait_probability: 1.0,
            service_level: if traffic <= 0.0 { 1.0 } else { 0.0 },
            average_wait_secs: f64::INFINITY,
            occupancy: 1.0,
        },
    }
}

/// The fewest agents meeting `target_share` answered within `answer_within_secs`, at most
/// `max_occupancy` busy (e.g. 0.85), capped at `limit`.
pub fn agents_needed(
    contacts_per_hour: f64,
    handle_secs: f64,
    answer_within_secs: f64,
    target_share: f64,
    max_occupancy: f64,
    limit: u32,
) -> Staffing {
    let traffic = contacts_per_hour * handle_secs / 3600.0;
    if traffic <= 0.0 {
        return staffing(0, 0.0, handle_secs, answer_within_secs);
    }
    let start = (traffic.floor() as u32).max(1);
    let mut last = staffing(start, contacts_per_hour, handle_secs, answer_within_secs);
    for n in start..=limit.max(start) {
        last = staffing(n, contacts_per_hour, handle_secs, answer_within_secs);
        if last.service_level >= target_share && last.occupancy <= max_occupancy {
            break;
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_textbook_example() {
        // 100 calls in 30 min (200/h), 3 min handle time → 10 Erlangs; 20 s target.
        let s = staffing(11, 200.0, 180.0, 20.0);
        assert!((s.traffic - 10.0).abs() < 1e-9);
        assert!((s.wait_probability - 0.6821).abs() < 0.001, "{s:?}");
        assert!((s.service_level - 0.3896).abs() < 0.001, "{s:?}");
        let needed = agents_needed(200.0, 180.0, 20.0, 0.8, 1.0, 100);
        assert_eq!(needed.agents, 14);
        assert!(needed.service_level >= 0.8);
    }

    #[test]
    fn too_few_agents_never_catch_up() {
        assert_eq!(erlang_c(5, 5.0), None);
        let s = staffing(5, 100.0, 180.0, 20.0);
        assert_eq!(s.service_level, 0.0);
        assert_eq!(agents_needed(0.0, 180.0, 20.0, 0.9, 0.85, 100).agents, 0);
    }

    #[test]
    fn occupancy_cap_adds_agents() {
        let plain = agents_needed(600.0, 300.0, 300.0, 0.9, 1.0, 500);
        let capped = agents_needed(600.0, 300.0, 300.0, 0.9, 0.8, 500);
        assert!(capped.agents > plain.agents);
        assert!(capped.occupancy <= 0.8);
    }
}
