//! How well a knowledge-base article answers a ticket.
//!
//! An article's title is the standard question it answers. Confidence blends how much of that
//! question the ticket asks (title words found in the ticket) with how much of the ticket the
//! article covers (ticket words found anywhere in the article): 0.6 and 0.4 of the score.

use std::collections::HashSet;

use serde::Serialize;

crate::domain::text_enum! {
    /// A published article is searched and sent as an answer; an archived one is kept only.
    pub enum ArticleStatus {
        Published = "published",
        Archived = "archived",
    }
}

/// An article's text as staff write it.
#[derive(Debug, Clone, Copy)]
pub struct ArticleText<'a> {
    pub language: &'a str,
    pub category: &'a str,
    pub tags: &'a [String],
    pub title: &'a str,
    pub body: &'a str,
}

/// The score of one article for one ticket, with the words that made it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Match {
    pub confidence: f64,
    pub matched_terms: Vec<String>,
}

pub fn score(ticket_terms: &[String], title_terms: &[String], article_terms: &[String]) -> Match {
    let ticket: HashSet<&str> = ticket_terms.iter().map(String::as_str).collect();
    let title: HashSet<&str> = title_terms.iter().map(String::as_str).collect();
    let article: HashSet<&str> = article_terms.iter().map(String::as_str).collect();
    if ticket.is_empty() || title.is_empty() {
        return Match {
            confidence: 0.0,
            matched_terms: Vec::new(),
        };
    }
    let asked = title.iter().filter(|t| ticket.contains(*t)).count() as f64 / title.len() as f64;
    let covered = ticket
        .iter()
        .filter(|t| article.contains(*t) || title.contains(*t))
        .count() as f64
        / ticket.len() as f64;
    let mut matched_terms: Vec<String> = ticket_terms
        .iter()
        .filter(|t| title.contains(t.as_str()) || article.contains(t.as_str()))
        .cloned()
        .collect();
    matched_terms.dedup();
    let confidence = ((0.6 * asked + 0.4 * covered) * 1000.0).round() / 1000.0;
    Match {
        confidence,
        matched_terms,
    }
}

/// Jaccard similarity of two word sets (duplicate detection compares tickets' keywords).
pub fn jaccard(a: &[String], b: &[String]) -> f64 {
    let a: HashSet<&str> = a.iter().map(String::as_str).collect();
    let b: HashSet<&str> = b.iter().map(String::as_str).collect();
    let union = a.union(&b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(&b).count() as f64 / union as f64
}

/// Overlap coefficient: shared words over the smaller set (incident grouping, where reports of
/// one fault differ in length and wording).
pub fn overlap(a: &[String], b: &[String]) -> f64 {
    let a: HashSet<&str> = a.iter().map(String::as_str).collect();
    let b: HashSet<&str> = b.iter().map(String::as_str).collect();
    let smaller = a.len().min(b.len());
    if smaller == 0 {
        return 0.0;
    }
    a.intersection(&b).count() as f64 / smaller as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn a_ticket_asking_the_standard_question_scores_high() {
        let m = score(
            &words("reset password forgot"),
            &words("reset password"),
            &words("open settings reset password link email"),
        );
        assert!((m.confidence - 0.867).abs() < 1e-9, "{m:?}");
        assert_eq!(m.matched_terms, ["reset", "password"]);
        let weak = score(
            &words("refund tuition semester"),
            &words("reset password"),
            &words("settings"),
        );
        assert_eq!(weak.confidence, 0.0);
    }

    #[test]
    fn similarities() {
        assert!((jaccard(&words("a b c"), &words("a b d")) - 0.5).abs() < 1e-9);
        assert!((overlap(&words("a b"), &words("a b c d e")) - 1.0).abs() < 1e-9);
        assert_eq!(jaccard(&[], &[]), 0.0);
    }
}
