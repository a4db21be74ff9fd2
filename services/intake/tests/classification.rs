//! Accuracy of the shipped classification rules on the labelled bilingual tickets in
//! `tests/data/labelled_tickets.tsv`, per category. Writes the table to
//! `target/classification-report.md` as well as printing it.

use std::collections::BTreeMap;

use intake::domain::classify::{CATEGORIES, Classifier, DEFAULT_RULES, Input, Rules};

#[test]
fn the_rules_classify_at_least_90_percent_of_the_labelled_tickets() {
    let classifier = Classifier::new(Rules::parse(DEFAULT_RULES).expect("rules"));
    let data = include_str!("data/labelled_tickets.tsv");
    let mut per: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut misses = Vec::new();
    let (mut zh, mut en) = (0, 0);
    for line in data.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let mut cols = line.split('\t');
        let (Some(label), Some(subject), Some(body)) = (cols.next(), cols.next(), cols.next()) else {
            panic!("malformed line: {line}");
        };
        assert!(CATEGORIES.contains(&label), "unknown label {label}");
        let c = classifier.classify(Input {
            subject,
            body,
            recent_contacts: 0,
        });
        if c.language == "zh-CN" {
            zh += 1
        } else {
            en += 1
        }
        let entry = per.entry(label).or_default();
        entry.1 += 1;
        if c.category == label {
            entry.0 += 1;
        } else {
            misses.push(format!(
                "{label} -> {}: {subject} ({:?})",
                c.category, c.explanation.category_scores
            ));
        }
    }
    let (right, total) = per.values().fold((0, 0), |(r, t), (a, b)| (r + a, t + b));
    let mut report = format!(
        "# Classification accuracy\n\n{total} labelled tickets ({zh} Chinese, {en} English)\n\n| category | correct | total | accuracy |\n|---|---|---|---|\n"
    );
    for (label, (ok, n)) in &per {
        report.push_str(&format!(
            "| {label} | {ok} | {n} | {:.1}% |\n",
            100.0 * *ok as f64 / *n as f64
        ));
    }
    let overall = right as f64 / total as f64;
    report.push_str(&format!(
        "| **overall** | {right} | {total} | {:.1}% |\n",
        100.0 * overall
    ));
    eprintln!("{report}\nmisclassified:\n{}", misses.join("\n"));
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/classification-report.md");
    let _ = std::fs::write(target, &report);
    assert!(total >= 300, "at least 300 labelled tickets");
    assert!(overall >= 0.90, "overall accuracy {:.1}% is below 90%", 100.0 * overall);
}
