//! Who may take a ticket, and who should: tier, skill and language requirements, relaxed step
//! by step as the ticket waits; then free capacity, least load and longest idle.

use std::collections::BTreeMap;

use uuid::Uuid;

pub const TIERS: [&str; 3] = ["junior", "mid", "senior"];

pub fn tier_rank(tier: &str) -> usize {
    TIERS.iter().position(|t| *t == tier).unwrap_or(0)
}

/// The tier above `tier` (senior stays senior).
pub fn tier_up(tier: &str) -> &'static str {
    TIERS[(tier_rank(tier) + 1).min(TIERS.len() - 1)]
}

/// What a ticket needs from an agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    pub tier: String,
    /// A category skill (`refund`) or a technical sub-skill (`technical.network`).
    pub skill: Option<String>,
    pub language: Option<String>,
    pub channel: String,
}

/// How far a ticket's requirements are relaxed after waiting (each step keeps the earlier ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Relaxation {
    Exact,
    AnyLanguage,
    TeamSkill,
    NextTierUp,
    AnyTierUp,
}

/// Waits (seconds) after which each relaxation step applies.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
pub struct RelaxAfter {
    pub language_secs: u64,
    pub skill_secs: u64,
    pub tier_secs: u64,
}

impl Relaxation {
    pub fn after(waited_secs: u64, r: &RelaxAfter) -> Self {
        if waited_secs >= r.tier_secs.saturating_mul(2) {
            Self::AnyTierUp
        } else if waited_secs >= r.tier_secs {
            Self::NextTierUp
        } else if waited_secs >= r.skill_secs {
            Self::TeamSkill
        } else if waited_secs >= r.language_secs {
            Self::AnyLanguage
        } else {
            Self::Exact
        }
    }
}

/// An agent as matching sees them.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: Uuid,
    pub tier: String,
    pub skills: Vec<String>,
    pub languages: Vec<String>,
    pub capacity: BTreeMap<String, u16>,
    /// Tickets held or offered now, per channel.
    pub load: BTreeMap<String, u16>,
    /// Milliseconds since the epoch when they last finished a ticket (0: never).
    pub idle_since_ms: i64,
}

impl Candidate {
    pub fn free_on(&self, channel: &str) -> u16 {
        let cap = self.capacity.get(channel).copied().unwrap_or(0);
        cap.saturating_sub(self.load.get(channel).copied().unwrap_or(0))
    }

    pub fn load_ratio(&self) -> f64 {
        let cap: u32 = self.capacity.values().map(|c| u32::from(*c)).sum();
        let load: u32 = self.load.values().map(|c| u32::from(*c)).sum();
        if cap == 0 {
            1.0
        } else {
            f64::from(load) / f64::from(cap)
        }
    }
}

fn has_skill(agent_skills: &[String], needed: &str, team_ok: bool) -> bool {
    let team = needed.split('.').next().unwrap_or(needed);
    agent_skills.iter().any(|s| {
        s == needed
            // A sub-skill covers the team's general tickets (technical.network takes `technical`).
            || (needed == team && s.split('.').next() == Some(team))
            // Relaxed: anyone in the team takes a sub-skill's ticket.
            || (team_ok && s.split('.').next() == Some(team))
    })
}

/// Whether `agent` may take a ticket needing `req` at relaxation `level` (capacity aside).
pub fn eligible(agent: &Candidate, req: &Requirement, level: Relaxation) -> bool {
    let (need, have) = (tier_rank(&req.tier), tier_rank(&agent.tier));
    let tier_ok = match level {
        Relaxation::AnyTierUp => have >= need,
        Relaxation::NextTierUp => have == need || have == need + 1,
        _ => have == need,
    };
    let skill_ok = match &req.skill {
        None => true,
        Some(s) => has_skill(&agent.skills, s, level >= Relaxation::TeamSkill),
    };
    let language_ok = match &req.language {
        Some(l) if level < Relaxation::AnyLanguage => agent.languages.iter().any(|a| a == l),
        _ => true,
    };
    tier_ok && skill_ok && language_ok
}

/// The agents who may take the ticket now, best first: free capacity on its channel, then
/// least loaded, then longest idle.
pub fn rank<'a>(agents: &'a [Candidate], req: &Requirement, level: Relaxation, exclude: &[Uuid]) -> Vec<&'a Candidate> {
    let mut out: Vec<&Candidate> = agents
        .iter()
        .filter(|a| a.free_on(&req.channel) > 0 && !exclude.contains(&a.id) && eligible(a, req, level))
        .collect();
    out.sort_by(|a, b| {
        a.load_ratio()
            .total_cmp(&b.load_ratio())
            .then(a.idle_since_ms.cmp(&b.idle_since_ms))
            .then(a.id.cmp(&b.id))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(tier: &str, skills: &[&str], languages: &[&str]) -> Candidate {
        Candidate {
            id: Uuid::new_v4(),
            tier: tier.into(),
            skills: skills.iter().map(|s| (*s).to_owned()).collect(),
            languages: languages.iter().map(|s| (*s).to_owned()).collect(),
            capacity: BTreeMap::from([("chat".into(), 3), ("email".into(), 8)]),
            load: BTreeMap::new(),
            idle_since_ms: 0,
        }
    }

    fn req(tier: &str, skill: Option<&str>, language: Option<&str>) -> Requirement {
        Requirement {
            tier: tier.into(),
            skill: skill.map(str::to_owned),
            language: language.map(str::to_owned),
            channel: "chat".into(),
        }
    }

    const RELAX: RelaxAfter = RelaxAfter {
        language_secs: 60,
        skill_secs: 120,
        tier_secs: 300,
    };

    #[test]
    fn relaxation_grows_with_waiting() {
        assert_eq!(Relaxation::after(0, &RELAX), Relaxation::Exact);
        assert_eq!(Relaxation::after(60, &RELAX), Relaxation::AnyLanguage);
        assert_eq!(Relaxation::after(150, &RELAX), Relaxation::TeamSkill);
        assert_eq!(Relaxation::after(300, &RELAX), Relaxation::NextTierUp);
        assert_eq!(Relaxation::after(600, &RELAX), Relaxation::AnyTierUp);
    }

    #[test]
    fn tier_is_exact_until_relaxed_and_never_goes_down() {
        let senior = agent("senior", &[], &["zh-CN"]);
        let mid = agent("mid", &[], &["zh-CN"]);
        let junior = agent("junior", &[], &["zh-CN"]);
        let r = req("junior", None, None);
        assert!(eligible(&junior, &r, Relaxation::Exact));
        assert!(!eligible(&mid, &r, Relaxation::TeamSkill));
        assert!(eligible(&mid, &r, Relaxation::NextTierUp));
        assert!(!eligible(&senior, &r, Relaxation::NextTierUp));
        assert!(eligible(&senior, &r, Relaxation::AnyTierUp));
        assert!(!eligible(&junior, &req("senior", None, None), Relaxation::AnyTierUp));
    }

    #[test]
    fn sub_skills_cover_their_team_and_relax_to_it() {
        let network = agent("junior", &["technical.network"], &["zh-CN"]);
        let software = agent("junior", &["technical.software"], &["zh-CN"]);
        assert!(eligible(
            &network,
            &req("junior", Some("technical"), None),
            Relaxation::Exact
        ));
        let r = req("junior", Some("technical.network"), None);
        assert!(eligible(&network, &r, Relaxation::Exact));
        assert!(!eligible(&software, &r, Relaxation::AnyLanguage));
        assert!(eligible(&software, &r, Relaxation::TeamSkill));
        assert!(!eligible(
            &software,
            &req("junior", Some("refund"), None),
            Relaxation::AnyTierUp
        ));
    }

    #[test]
    fn language_relaxes_first() {
        let zh = agent("junior", &[], &["zh-CN"]);
        let r = req("junior", None, Some("en"));
        assert!(!eligible(&zh, &r, Relaxation::Exact));
        assert!(eligible(&zh, &r, Relaxation::AnyLanguage));
    }

    #[test]
    fn ranking_prefers_free_then_least_loaded_then_longest_idle() {
        let mut full = agent("junior", &[], &["zh-CN"]);
        full.load.insert("chat".into(), 3);
        let mut busy = agent("junior", &[], &["zh-CN"]);
        busy.load.insert("chat".into(), 2);
        let mut idle_recent = agent("junior", &[], &["zh-CN"]);
        idle_recent.idle_since_ms = 2_000;
        let mut idle_long = agent("junior", &[], &["zh-CN"]);
        idle_long.idle_since_ms = 1_000;
        let agents = vec![full.clone(), busy.clone(), idle_recent.clone(), idle_long.clone()];
        let ranked: Vec<Uuid> = rank(&agents, &req("junior", None, None), Relaxation::Exact, &[])
            .iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(ranked, [idle_long.id, idle_recent.id, busy.id]);
        let without: Vec<Uuid> = rank(&agents, &req("junior", None, None), Relaxation::Exact, &[idle_long.id])
            .iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(without, [idle_recent.id, busy.id]);
    }
}
