//! Who may take a ticket, and who should: tier, skill and language requirements, relaxed step
//! by step as the ticket waits; then free capacity, least load and longest idle.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use contracts::AgentId;

pub const TIERS: [&str; 3] = ["junior", "mid", "senior"];

pub fn tier_rank(tier: &str) -> usize {
    TIERS.iter().position(|t| *t == tier).unwrap_or(0)
}

/// The tier above `tier` (senior stays senior).
pub fn tier_up(tier: &str) -> &'static str {
    TIERS[(tier_rank(tier) + 1).min(TIERS.len() - 1)]
}

/// What a ticket needs from an agent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Requirement {
    pub tier: String,
    /// A category skill (`refund`) or a technical sub-skill (`technical.network`).
    pub skill: Option<String>,
    pub language: Option<String>,
    pub channel: String,
}

/// How far a ticket's requirements are relaxed after waiting (each step keeps the earlier ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
    pub id: AgentId,
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

/// Chooses agents for many tickets in turn. For each ticket: among the agents with free
/// capacity on its channel who may take it ([`eligible`]), the least loaded (tickets held over
/// capacity, all channels), then the longest idle; each choice counts in the chosen agent's
/// load before the next. Without copying the agents, and without looking at every agent for
/// every ticket: the agents able to take one kind of ticket are kept in a heap, built when that
/// kind is first asked for.
pub struct Chooser<'a> {
    agents: &'a [Candidate],
    /// Tickets chosen for each agent in this pass, per channel.
    added: HashMap<usize, BTreeMap<String, u16>>,
    added_total: Vec<u32>,
    able: HashMap<(Requirement, Relaxation), BinaryHeap<Reverse<Place>>>,
}

/// An agent's place in a heap: the better, the smaller.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Place {
    ratio: f64,
    idle_since_ms: i64,
    id: AgentId,
    index: usize,
}

impl Eq for Place {}

impl Ord for Place {
    fn cmp(&self, other: &Self) -> Ordering {
        self.ratio
            .total_cmp(&other.ratio)
            .then(self.idle_since_ms.cmp(&other.idle_since_ms))
            .then(self.id.cmp(&other.id))
    }
}

impl PartialOrd for Place {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<'a> Chooser<'a> {
    pub fn new(agents: &'a [Candidate]) -> Self {
        Self {
            agents,
            added: HashMap::new(),
            added_total: vec![0; agents.len()],
            able: HashMap::new(),
        }
    }

    fn free_on(&self, index: usize, channel: &str) -> u16 {
        let added = self
            .added
            .get(&index)
            .and_then(|m| m.get(channel))
            .copied()
            .unwrap_or(0);
        self.agents[index].free_on(channel).saturating_sub(added)
    }

    fn place(&self, index: usize) -> Place {
        let a = &self.agents[index];
        let cap: u32 = a.capacity.values().map(|c| u32::from(*c)).sum();
        let load: u32 = a.load.values().map(|c| u32::from(*c)).sum::<u32>() + self.added_total[index];
        Place {
            ratio: if cap == 0 {
                1.0
            } else {
                f64::from(load) / f64::from(cap)
            },
            idle_since_ms: a.idle_since_ms,
            id: a.id,
            index,
        }
    }

    /// The best agent for a ticket needing `req` at `level`, not one of `exclude`; counted as
    /// holding one more ticket on its channel from now on.
    pub fn choose(&mut self, req: &Requirement, level: Relaxation, exclude: &[AgentId]) -> Option<AgentId> {
        let key = (req.clone(), level);
        let mut heap = match self.able.remove(&key) {
            Some(heap) => heap,
            None => (0..self.agents.len())
                .filter(|i| self.free_on(*i, &req.channel) > 0 && eligible(&self.agents[*i], req, level))
                .map(|i| Reverse(self.place(i)))
                .collect(),
        };
        let mut passed_over = Vec::new();
        let chosen = loop {
            let Some(Reverse(p)) = heap.pop() else { break None };
            // Full on this channel: it stays full for the rest of the pass.
            if self.free_on(p.index, &req.channel) == 0 {
                continue;
            }
            // Chosen for another kind of ticket since it was placed: place it again.
            let now = self.place(p.index);
            if now != p {
                heap.push(Reverse(now));
                continue;
            }
            if exclude.contains(&p.id) {
                passed_over.push(Reverse(p));
                continue;
            }
            *self
                .added
                .entry(p.index)
                .or_default()
                .entry(req.channel.clone())
                .or_default() += 1;
            self.added_total[p.index] += 1;
            heap.push(Reverse(self.place(p.index)));
            break Some(p.id);
        };
        heap.extend(passed_over);
        self.able.insert(key, heap);
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_ratio(a: &Candidate) -> f64 {
        let cap: u32 = a.capacity.values().map(|c| u32::from(*c)).sum();
        let load: u32 = a.load.values().map(|c| u32::from(*c)).sum();
        if cap == 0 {
            1.0
        } else {
            f64::from(load) / f64::from(cap)
        }
    }

    /// The rule as written out plainly, the reference [`Chooser`] is checked against: the agents who
    /// may take the ticket now, best first (free capacity on its channel, then least loaded, then
    /// longest idle).
    fn rank<'a>(
        agents: &'a [Candidate],
        req: &Requirement,
        level: Relaxation,
        exclude: &[AgentId],
    ) -> Vec<&'a Candidate> {
        let mut out: Vec<(f64, &Candidate)> = able(agents, req, level, exclude).collect();
        out.sort_by(better_first);
        out.into_iter().map(|(_, a)| a).collect()
    }

    /// The first of [`rank`]: what the chooser must pick for one ticket.
    fn best<'a>(
        agents: &'a [Candidate],
        req: &Requirement,
        level: Relaxation,
        exclude: &[AgentId],
    ) -> Option<&'a Candidate> {
        able(agents, req, level, exclude).min_by(better_first).map(|(_, a)| a)
    }

    /// The agents with free capacity on the ticket's channel who may take it, with their load ratio.
    fn able<'a, 'r>(
        agents: &'a [Candidate],
        req: &'r Requirement,
        level: Relaxation,
        exclude: &'r [AgentId],
    ) -> impl Iterator<Item = (f64, &'a Candidate)> {
        agents
            .iter()
            .filter(move |a| a.free_on(&req.channel) > 0 && !exclude.contains(&a.id) && eligible(a, req, level))
            .map(|a| (load_ratio(a), a))
    }

    /// Least loaded, then longest idle (then by id, so the order is total).
    fn better_first(a: &(f64, &Candidate), b: &(f64, &Candidate)) -> Ordering {
        a.0.total_cmp(&b.0)
            .then(a.1.idle_since_ms.cmp(&b.1.idle_since_ms))
            .then(a.1.id.cmp(&b.1.id))
    }

    fn agent(tier: &str, skills: &[&str], languages: &[&str]) -> Candidate {
        Candidate {
            id: AgentId::from(uuid::Uuid::new_v4()),
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
    fn the_chooser_picks_as_best_does_with_each_choice_counted() {
        // A small deterministic generator: varied agents, loads and tickets.
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let tiers = ["junior", "mid", "senior"];
        let skills = ["refund", "technical.network", "technical.software", "complaint"];
        let languages = ["zh-CN", "en"];
        let channels = ["chat", "email"];
        let mut agents: Vec<Candidate> = (0..60)
            .map(|_| {
                let mut a = agent(
                    tiers[next(3) as usize],
                    &[skills[next(4) as usize]],
                    &[languages[next(2) as usize]],
                );
                a.load.insert("chat".into(), next(3) as u16);
                a.load.insert("email".into(), next(8) as u16);
                a.idle_since_ms = next(5) as i64 * 1000;
                a
            })
            .collect();
        let levels = [
            Relaxation::Exact,
            Relaxation::AnyLanguage,
            Relaxation::TeamSkill,
            Relaxation::AnyTierUp,
        ];
        let tickets: Vec<(Requirement, Relaxation, Vec<AgentId>)> = (0..300)
            .map(|_| {
                let mut r = req(
                    tiers[next(3) as usize],
                    (next(3) > 0).then(|| skills[next(4) as usize]),
                    (next(2) > 0).then(|| languages[next(2) as usize]),
                );
                r.channel = channels[next(2) as usize].into();
                let exclude = if next(4) == 0 {
                    vec![agents[next(60) as usize].id]
                } else {
                    Vec::new()
                };
                (r, levels[next(4) as usize], exclude)
            })
            .collect();
        let mut chooser = Chooser::new(&agents);
        let chosen: Vec<Option<AgentId>> = tickets.iter().map(|(r, l, x)| chooser.choose(r, *l, x)).collect();
        drop(chooser);
        let mut expected = Vec::new();
        for (r, l, x) in &tickets {
            let pick = best(&agents, r, *l, x).map(|a| a.id);
            if let Some(id) = pick
                && let Some(a) = agents.iter_mut().find(|a| a.id == id)
            {
                *a.load.entry(r.channel.clone()).or_default() += 1;
            }
            expected.push(pick);
        }
        assert_eq!(chosen, expected);
        assert!(
            expected.iter().filter(|c| c.is_some()).count() > 50,
            "the case exercises choices"
        );
        assert!(expected.iter().any(Option::is_none), "and agents running full");
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
        let ranked: Vec<AgentId> = rank(&agents, &req("junior", None, None), Relaxation::Exact, &[])
            .iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(ranked, [idle_long.id, idle_recent.id, busy.id]);
        let without: Vec<AgentId> = rank(&agents, &req("junior", None, None), Relaxation::Exact, &[idle_long.id])
            .iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(without, [idle_recent.id, busy.id]);
        let best_of =
            |exclude: &[AgentId]| best(&agents, &req("junior", None, None), Relaxation::Exact, exclude).map(|a| a.id);
        assert_eq!(best_of(&[]), Some(idle_long.id));
        assert_eq!(best_of(&[idle_long.id]), Some(idle_recent.id));
        assert_eq!(
            best_of(&[idle_long.id, idle_recent.id, busy.id]),
            None,
            "the full one never"
        );
    }
}
