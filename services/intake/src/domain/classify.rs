//! Classification of a new ticket, explained: category, language, education level, keywords,
//! priority and a high-emotion flag — in Chinese (segmented with jieba) and English.
//!
//! The rules are data (`config/classification.toml`, replaceable by a file); this module only
//! applies them.

use std::collections::BTreeMap;

use contracts::vocabulary::Priority;
use jieba_rs::Jieba;
use serde::{Deserialize, Serialize};

/// Every category, in the order ties are broken.
pub const CATEGORIES: [&str; 8] = [
    "complaint",
    "refund",
    "technical",
    "learning_progress",
    "resource_request",
    "course_suggestion",
    "course_consultation",
    "other",
];

pub const EDUCATION_LEVELS: [&str; 3] = ["k12", "higher", "vocational"];

pub const FAULT_TYPES: [&str; 3] = ["hardware", "software", "network"];

/// The rules file's shape.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub subject_weight: f64,
    pub category: Vec<TermSet>,
    pub education_level: Vec<TermSet>,
    pub priority: PriorityRules,
    pub emotion: EmotionRules,
    /// Fault types of technical tickets (`hardware`, `software`, `network`); first listed
    /// wins a tie, the last listed is the fallback when nothing matches.
    #[serde(default)]
    pub fault_type: Vec<TermSet>,
}

/// Named terms in both languages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TermSet {
    pub name: String,
    #[serde(default)]
    pub zh: Vec<String>,
    #[serde(default)]
    pub en: Vec<String>,
    #[serde(skip)]
    matcher: Matcher,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityRules {
    pub urgent_zh: Vec<String>,
    pub urgent_en: Vec<String>,
    pub high_zh: Vec<String>,
    pub high_en: Vec<String>,
    #[serde(skip)]
    urgent: Matcher,
    #[serde(skip)]
    high: Matcher,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmotionRules {
    pub zh: Vec<String>,
    pub en: Vec<String>,
    pub min_terms: usize,
    pub exclamation_run: usize,
    pub repeat_contacts: u32,
    #[serde(skip)]
    matcher: Matcher,
}

/// jieba's dictionary trimmed to its words of frequency ≥ 20 (80k of 349k words): segmentation
/// of support tickets is as good, and the service needs a third of the memory.
const DICTIONARY: &str = include_str!("../../config/jieba-dict.txt");

fn segmenter() -> Jieba {
    match Jieba::with_dict(&mut std::io::BufReader::new(DICTIONARY.as_bytes())) {
        Ok(j) => j,
        // The dictionary is part of the binary and checked by the tests.
        Err(e) => {
            tracing::error!(error = %e, "the built-in dictionary did not load; segmenting without it");
            Jieba::empty()
        }
    }
}

/// The rules shipped with the service.
pub const DEFAULT_RULES: &str = include_str!("../../config/classification.toml");

impl Rules {
    /// Parses and checks rules: known category and level names, `other` present.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut rules: Rules = toml::from_str(text).map_err(|e| e.to_string())?;
        // Matching is on lower-cased text: lower-case the terms once, here.
        let lower = |v: &mut Vec<String>| v.iter_mut().for_each(|t| *t = t.to_lowercase());
        for set in rules
            .category
            .iter_mut()
            .chain(rules.education_level.iter_mut())
            .chain(rules.fault_type.iter_mut())
        {
            lower(&mut set.zh);
            lower(&mut set.en);
        }
        for v in [
            &mut rules.priority.urgent_zh,
            &mut rules.priority.urgent_en,
            &mut rules.priority.high_zh,
            &mut rules.priority.high_en,
            &mut rules.emotion.zh,
            &mut rules.emotion.en,
        ] {
            lower(v);
        }
        // Every term list is matched in one pass over the text.
        for set in rules
            .category
            .iter_mut()
            .chain(rules.education_level.iter_mut())
            .chain(rules.fault_type.iter_mut())
        {
            set.matcher = Matcher::new(&set.zh, &set.en)?;
        }
        let p = &mut rules.priority;
        p.urgent = Matcher::new(&p.urgent_zh, &p.urgent_en)?;
        p.high = Matcher::new(&p.high_zh, &p.high_en)?;
        rules.emotion.matcher = Matcher::new(&rules.emotion.zh, &rules.emotion.en)?;
        for c in &rules.category {
            if !CATEGORIES.contains(&c.name.as_str()) {
                return Err(format!(
                    "unknown category `{}` (known: {})",
                    c.name,
                    CATEGORIES.join(", ")
                ));
            }
        }
        if !rules.category.iter().any(|c| c.name == "other") {
            return Err("the rules must define the category `other`".into());
        }
        for l in &rules.education_level {
            if !EDUCATION_LEVELS.contains(&l.name.as_str()) {
                return Err(format!("unknown education level `{}`", l.name));
            }
        }
        for f in &rules.fault_type {
            if !FAULT_TYPES.contains(&f.name.as_str()) {
                return Err(format!(
                    "unknown fault type `{}` (known: {})",
                    f.name,
                    FAULT_TYPES.join(", ")
                ));
            }
        }
        if rules.subject_weight <= 0.0 {
            return Err("subject_weight must be positive".into());
        }
        Ok(rules)
    }
}

/// What the classifier looks at.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub subject: &'a str,
    pub body: &'a str,
    /// Tickets the same customer opened recently (for the repeated-contact rule).
    pub recent_contacts: u32,
}

/// The result, with the reasons for each part.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Classification {
    pub category: String,
    /// `zh-CN` or `en`.
    pub language: String,
    pub education_level: Option<String>,
    pub keywords: Vec<String>,
    pub priority: Priority,
    pub high_emotion: bool,
    /// For technical tickets: `hardware`, `software` or `network`.
    pub fault_type: Option<String>,
    pub explanation: Explanation,
}

/// Why: the terms behind each decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// Category → weighted score of its matched terms (only categories that matched).
    pub category_scores: BTreeMap<String, f64>,
    /// The winning category's matched terms.
    pub category_terms: Vec<String>,
    /// Share of Chinese characters among letters.
    pub han_ratio: f64,
    pub education_terms: Vec<String>,
    pub priority_terms: Vec<String>,
    pub emotion_terms: Vec<String>,
    pub exclamation_run: usize,
    pub recent_contacts: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fault_terms: Vec<String>,
}

/// Applies the rules; cheap to share (`Arc`), the segmenter's dictionary loads once.
pub struct Classifier {
    rules: Rules,
    jieba: Jieba,
}

impl Classifier {
    pub fn new(rules: Rules) -> Self {
        Self {
            rules,
            jieba: segmenter(),
        }
    }

    pub fn classify(&self, input: Input<'_>) -> Classification {
        let terms = self.terms(&format!("{}\n{}", input.subject, input.body));
        self.classify_with_terms(input, &terms)
    }

    /// [`Self::classify`] with the text's [`Self::terms`] already segmented.
    pub fn classify_with_terms(&self, input: Input<'_>, terms: &[String]) -> Classification {
        let subject = input.subject.to_lowercase();
        let body = input.body.to_lowercase();
        let r = &self.rules;

        let mut scores = BTreeMap::new();
        let mut best: Option<(&str, f64, Vec<String>)> = None;
        for set in &r.category {
            let in_subject = matches(&subject, set);
            let in_body = matches(&body, set);
            let score = in_subject.len() as f64 * r.subject_weight + in_body.len() as f64;
            if score > 0.0 {
                scores.insert(set.name.clone(), score);
                if best.as_ref().is_none_or(|(_, s, _)| score > *s) {
                    let mut terms = in_subject;
                    for t in in_body {
                        if !terms_contains(&terms, &t) {
                            terms.push(t);
                        }
                    }
                    best = Some((set.name.as_str(), score, terms));
                }
            }
        }
        let (category, category_terms) = match best {
            Some((name, _, terms)) => (name.to_owned(), terms),
            None => ("other".to_owned(), Vec::new()),
        };

        let text = format!("{subject}\n{body}");
        let han_ratio = han_ratio(&text);
        let language = language_of(han_ratio).to_owned();

        let mut education_level = None;
        let mut education_terms = Vec::new();
        for set in &r.education_level {
            let found = matches(&text, set);
            if !found.is_empty() {
                education_level = Some(set.name.clone());
                education_terms = found;
                break;
            }
        }

        let emotion_terms = r.emotion.matcher.find(&text);
        let exclamation_run = longest_exclamation_run(&text);
        let high_emotion = emotion_terms.len() >= r.emotion.min_terms.max(1)
            || exclamation_run >= r.emotion.exclamation_run
            || input.recent_contacts >= r.emotion.repeat_contacts;

        let urgent = r.priority.urgent.find(&text);
        let high = r.priority.high.find(&text);
        let (priority, priority_terms) = if !urgent.is_empty() {
            (Priority::Urgent, urgent)
        } else if !high.is_empty() || high_emotion {
            (Priority::High, high)
        } else {
            (Priority::Normal, Vec::new())
        };

        let (fault_type, fault_terms) = if category == "technical" {
            self.fault_type(&text)
        } else {
            (None, Vec::new())
        };
        let keywords = keywords(terms, &category_terms);
        Classification {
            category,
            language,
            education_level,
            keywords,
            priority,
            high_emotion,
            fault_type,
            explanation: Explanation {
                category_scores: scores,
                category_terms,
                han_ratio: (han_ratio * 100.0).round() / 100.0,
                education_terms,
                priority_terms,
                emotion_terms,
                exclamation_run,
                recent_contacts: input.recent_contacts,
                fault_terms,
            },
        }
    }

    /// The fault type whose terms match most, else the last listed (the fallback).
    pub fn fault_type(&self, lowercase_text: &str) -> (Option<String>, Vec<String>) {
        let mut best: Option<(&str, Vec<String>)> = None;
        for set in &self.rules.fault_type {
            let found = matches(lowercase_text, set);
            if !found.is_empty() && best.as_ref().is_none_or(|(_, b)| found.len() > b.len()) {
                best = Some((set.name.as_str(), found));
            }
        }
        match best {
            Some((name, terms)) => (Some(name.to_owned()), terms),
            None => (self.rules.fault_type.last().map(|f| f.name.clone()), Vec::new()),
        }
    }

    /// The words of `text` that carry meaning: jieba-segmented Chinese words of two or more
    /// characters and English words of three or more letters, lower-cased, stop words left
    /// out, in order of appearance (repeats kept). Used to index and search articles and to
    /// compare tickets.
    pub fn terms(&self, text: &str) -> Vec<String> {
        let text = text.to_lowercase();
        let mut out = Vec::new();
        for token in self.jieba.cut(&text, true) {
            let token = token.word.trim();
            let han = token.chars().filter(|c| is_han(*c)).count();
            if han >= 2 && !ZH_STOP.contains(&token) {
                out.push(token.to_owned());
            } else if han == 0 {
                out.extend(
                    token
                        .split(|c: char| !c.is_alphanumeric())
                        .filter(|w| w.len() >= 3 && !EN_STOP.contains(w) && !w.chars().all(|c| c.is_ascii_digit()))
                        .map(str::to_owned),
                );
            }
        }
        out
    }

    /// The language of `text`: `zh-CN` or `en`.
    pub fn language(&self, text: &str) -> &'static str {
        language_of(han_ratio(&text.to_lowercase()))
    }
}

fn language_of(han_ratio: f64) -> &'static str {
    if han_ratio >= 0.2 { "zh-CN" } else { "en" }
}

/// The ticket's keywords: the deciding terms first, then the most frequent of its terms.
fn keywords(terms: &[String], deciding: &[String]) -> Vec<String> {
    let mut counts: Vec<(&str, usize, usize)> = Vec::new();
    for (at, word) in terms.iter().enumerate() {
        if let Some(entry) = counts.iter_mut().find(|(w, _, _)| *w == word) {
            entry.1 += 1;
        } else {
            counts.push((word, 1, at));
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    let mut out: Vec<String> = deciding.iter().take(5).cloned().collect();
    for (word, _, _) in counts {
        if out.len() >= 8 {
            break;
        }
        if !out.iter().any(|o| o == word) {
            out.push(word.to_owned());
        }
    }
    out
}

fn terms_contains(terms: &[String], t: &str) -> bool {
    terms.iter().any(|x| x == t)
}

fn matches(text: &str, set: &TermSet) -> Vec<String> {
    set.matcher.find(text)
}

/// A list of Chinese terms (matched as substrings) and English terms (matched as whole words
/// or phrases), found in one Aho-Corasick pass over lower-cased text.
#[derive(Debug, Clone, Default)]
struct Matcher {
    automaton: Option<aho_corasick::AhoCorasick>,
    /// Chinese terms first, then English ones.
    terms: Vec<String>,
    zh: usize,
}

impl Matcher {
    fn new(zh: &[String], en: &[String]) -> Result<Self, String> {
        let terms: Vec<String> = zh.iter().chain(en).cloned().collect();
        let automaton = if terms.is_empty() {
            None
        } else {
            Some(aho_corasick::AhoCorasick::new(&terms).map_err(|e| format!("term list: {e}"))?)
        };
        Ok(Self {
            automaton,
            terms,
            zh: zh.len(),
        })
    }

    /// The terms present in `text`: Chinese ones in list order, then English ones not found yet.
    fn find(&self, text: &str) -> Vec<String> {
        let Some(automaton) = &self.automaton else {
            return Vec::new();
        };
        let mut hit = vec![false; self.terms.len()];
        for m in automaton.find_overlapping_iter(text) {
            let i = m.pattern().as_usize();
            if !hit[i] && (i < self.zh || word_bounded(text, m.start(), m.end())) {
                hit[i] = true;
            }
        }
        let mut found: Vec<String> = Vec::new();
        for (i, term) in self.terms.iter().enumerate() {
            if hit[i] && (i < self.zh || !terms_contains(&found, term)) {
                found.push(term.clone());
            }
        }
        found
    }
}

/// Whether `text[start..end]` stands as a word: no letter or digit (other than Chinese) just
/// before or after it.
fn word_bounded(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    !before.is_some_and(|c| c.is_alphanumeric() && !is_han(c))
        && !after.is_some_and(|c| c.is_alphanumeric() && !is_han(c))
}

fn is_han(c: char) -> bool {
    matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0xF900..=0xFAFF)
}

fn han_ratio(text: &str) -> f64 {
    let han = text.chars().filter(|c| is_han(*c)).count();
    let latin = text.chars().filter(|c| c.is_ascii_alphabetic()).count();
    if han + latin == 0 {
        return 0.0;
    }
    // A Chinese character carries about as much as a short English word.
    let weighted = han as f64 * 3.0;
    weighted / (weighted + latin as f64)
}

fn longest_exclamation_run(text: &str) -> usize {
    let (mut best, mut run) = (0, 0);
    for c in text.chars() {
        if c == '!' || c == '！' {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}

const ZH_STOP: [&str; 24] = [
    "我们",
    "你们",
    "他们",
    "这个",
    "那个",
    "什么",
    "怎么",
    "请问",
    "一下",
    "可以",
    "已经",
    "没有",
    "还是",
    "就是",
    "但是",
    "因为",
    "所以",
    "如果",
    "一直",
    "现在",
    "时候",
    "自己",
    "问题",
    "能不能",
];

const EN_STOP: [&str; 40] = [
    "the", "and", "for", "you", "your", "are", "was", "but", "not", "can", "with", "this", "that", "have", "has",
    "had", "from", "what", "when", "where", "how", "does", "did", "would", "could", "please", "there", "their", "they",
    "its", "our", "any", "about", "into", "just", "also", "been", "will", "it's", "i'm",
];

#[cfg(test)]
mod tests {

    #[test]
    fn the_built_in_dictionary_loads_and_segments_chinese_words() {
        assert!(Jieba::with_dict(&mut std::io::BufReader::new(DICTIONARY.as_bytes())).is_ok());
        let c = Classifier::new(Rules::parse(DEFAULT_RULES).expect("rules"));
        let terms = c.terms("直播课进不去，一直在加载");
        assert!(terms.iter().any(|t| t == "直播"), "{terms:?}");
        assert!(terms.iter().any(|t| t == "加载"), "{terms:?}");
    }

    use super::*;
    use std::sync::OnceLock;

    fn classifier() -> &'static Classifier {
        static C: OnceLock<Classifier> = OnceLock::new();
        C.get_or_init(|| Classifier::new(Rules::parse(DEFAULT_RULES).expect("rules")))
    }

    fn classify(subject: &str, body: &str, recent: u32) -> Classification {
        classifier().classify(Input {
            subject,
            body,
            recent_contacts: recent,
        })
    }

    #[test]
    fn a_chinese_refund_request_is_explained() {
        let c = classify("申请退款", "孩子不喜欢这个课程，想申请退款，七天内可以全额退吗？", 0);
        assert_eq!(c.category, "refund");
        assert_eq!(c.language, "zh-CN");
        assert_eq!(c.education_level.as_deref(), Some("k12"));
        assert!(c.explanation.category_terms.contains(&"退款".to_owned()));
        assert!(c.keywords.contains(&"退款".to_owned()));
        assert!(!c.high_emotion);
    }

    #[test]
    fn an_english_technical_fault_is_classified() {
        let c = classify(
            "No sound in the classroom",
            "I can't hear the teacher during the live session.",
            0,
        );
        assert_eq!(c.category, "technical");
        assert_eq!(c.language, "en");
        assert!(c.keywords.iter().any(|k| k == "teacher" || k == "session"));
    }

    #[test]
    fn angry_language_exclamations_or_repeated_contact_flag_high_emotion() {
        let angry = classify("投诉老师", "老师态度恶劣，我非常愤怒", 0);
        assert!(angry.high_emotion && angry.category == "complaint");
        assert_eq!(angry.priority, Priority::High);
        assert!(classify("Hello", "Why is nobody answering!!!", 0).high_emotion);
        assert!(classify("Timetable", "When is the next class?", 3).high_emotion);
        assert!(!classify("Timetable", "When is the next class?", 0).high_emotion);
    }

    #[test]
    fn urgency_words_raise_priority() {
        let c = classify("紧急：直播课进不去", "马上就要考试了", 0);
        assert_eq!(c.priority, Priority::Urgent);
        assert!(!c.explanation.priority_terms.is_empty());
    }

    #[test]
    fn nothing_recognised_is_other() {
        let c = classify("hello", "just checking in", 0);
        assert_eq!(c.category, "other");
        assert!(c.explanation.category_scores.is_empty());
    }

    #[test]
    fn english_terms_match_whole_words_only() {
        let m = Matcher::new(&["卡".into(), "卡顿".into()], &["app".into(), "log in".into()]).expect("matcher");
        assert_eq!(m.find("the app crashes"), ["app"]);
        assert!(m.find("my apple").is_empty());
        assert_eq!(m.find("打开app就闪退"), ["app"]);
        assert_eq!(m.find("an apple app"), ["app"], "a later whole-word occurrence counts");
        assert_eq!(
            m.find("视频卡顿, can't log in"),
            ["卡", "卡顿", "log in"],
            "overlapping Chinese terms all count"
        );
        assert!(Matcher::new(&[], &[]).expect("empty").find("anything").is_empty());
    }

    #[test]
    fn bad_rules_are_refused_with_a_reason() {
        let unknown = DEFAULT_RULES.replace("name = \"refund\"", "name = \"refunds\"");
        assert!(Rules::parse(&unknown).expect_err("unknown").contains("refunds"));
        assert!(Rules::parse("subject_weight = 1").is_err());
    }
}
