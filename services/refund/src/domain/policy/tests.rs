#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::json;

use super::*;

fn t(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

/// 8,000.00 CNY paid, enrolled 2026-03-01, 12 sessions, course period of 90 days.
fn facts() -> Facts {
    Facts {
        paid_minor: 800_000,
        currency: "CNY".into(),
        enrolled_at: t(2026, 3, 1),
        service_ends_at: Some(t(2026, 3, 1) + Duration::days(90)),
        total_sessions: 12,
        attended_sessions: 3,
        non_refundable: vec![],
        discount_minor: 0,
        already_refunded_minor: 0,
    }
}

fn situation(reason: Reason, at: DateTime<Utc>) -> Situation {
    Situation { reason, at }
}

/// A day well past any cooling-off period in these tests.
fn later() -> DateTime<Utc> {
    t(2026, 4, 1)
}

fn policy(rules: Vec<Rule>) -> Policy {
    Policy { rules }
}

fn line_sum(q: &Quote) -> i64 {
    q.lines.iter().map(|l| l.amount_minor).sum()
}

fn errors_of(json: serde_json::Value) -> Vec<(String, String)> {
    Policy::parse(&json)
        .unwrap_err()
        .into_iter()
        .map(|e| (e.field, e.message))
        .collect()
}

fn fields_of(json: serde_json::Value) -> Vec<String> {
    errors_of(json).into_iter().map(|(f, _)| f).collect()
}

// ---- rules -------------------------------------------------------------------------------------

#[test]
fn cooling_off_inside_refunds_everything_left_and_stops() {
    let mut f = facts();
    f.already_refunded_minor = 100_000;
    let p = policy(vec![
        Rule::CoolingOff { days: 7 },
        Rule::Cap {
            max_minor: Some(1),
            max_percent_of_paid: None,
        },
    ]);
    let q = evaluate(&p, &f, &situation(Reason::Other, t(2026, 3, 7)));
    assert_eq!(q.amount_minor, 700_000);
    assert!(q.in_cooling_off);
    let rules: Vec<&str> = q.lines.iter().map(|l| l.rule.as_str()).collect();
    assert_eq!(rules, ["paid", "already_refunded", "cooling_off"]);
    assert_eq!(q.lines[2].amount_minor, 0);
    assert!(
        q.lines[2].description.contains("inside the 7-day cooling-off period"),
        "{}",
        q.lines[2].description
    );
    assert_eq!(line_sum(&q), q.amount_minor);
}

#[test]
fn cooling_off_ends_exactly_after_days() {
    let p = policy(vec![Rule::CoolingOff { days: 7 }, Rule::ProRataSessions {}]);
    let end = t(2026, 3, 8);
    let just_before = evaluate(&p, &facts(), &situation(Reason::Other, end - Duration::milliseconds(1)));
    assert!(just_before.in_cooling_off);
    assert_eq!(just_before.amount_minor, 800_000);
    let at_end = evaluate(&p, &facts(), &situation(Reason::Other, end));
    assert!(!at_end.in_cooling_off);
    assert_eq!(at_end.amount_minor, 600_000);
    assert_eq!(at_end.lines[1].amount_minor, 0);
    assert!(at_end.lines[1].description.contains("ended 2026-03-08 00:00 UTC"));
}

#[test]
fn cooling_off_after_a_deduction_still_restores_the_full_amount() {
    let p = policy(vec![
        Rule::Cap {
            max_minor: Some(100),
            max_percent_of_paid: None,
        },
        Rule::CoolingOff { days: 7 },
    ]);
    let q = evaluate(&p, &facts(), &situation(Reason::Teacher, t(2026, 3, 2)));
    assert_eq!(q.amount_minor, 800_000);
    assert_eq!(q.lines[1].amount_minor, -799_900);
    assert_eq!(q.lines[2].amount_minor, 799_900);
}

#[test]
fn full_for_reasons_only_for_listed_reasons() {
    let p = policy(vec![
        Rule::FullForReasons {
            reasons: vec![Reason::DuplicateCharge],
        },
        Rule::ProRataSessions {},
    ]);
    let full = evaluate(&p, &facts(), &situation(Reason::DuplicateCharge, later()));
    assert_eq!(full.amount_minor, 800_000);
    assert_eq!(full.lines.len(), 2, "evaluation stops after the full refund");
    assert!(!full.in_cooling_off);
    let other = evaluate(&p, &facts(), &situation(Reason::Schedule, later()));
    assert_eq!(other.amount_minor, 600_000);
    assert_eq!(other.lines[1].amount_minor, 0);
    assert_eq!(
        other.lines[1].description,
        "reason schedule is not one of duplicate_charge: no effect"
    );
}

#[test]
fn deduct_non_refundable_takes_only_listed_kinds_and_never_goes_below_zero() {
    let mut f = facts();
    f.non_refundable = vec![
        Part {
            kind: PartKind::Materials,
            amount_minor: 50_000,
        },
        Part {
            kind: PartKind::PlatformFee,
            amount_minor: 20_000,
        },
        Part {
            kind: PartKind::Other,
            amount_minor: 1_000,
        },
    ];
    let p = policy(vec![Rule::DeductNonRefundable {
        kinds: vec![PartKind::Materials, PartKind::PlatformFee],
    }]);
    let q = evaluate(&p, &f, &situation(Reason::Other, later()));
    assert_eq!(q.amount_minor, 730_000);
    assert_eq!(q.lines[1].amount_minor, -70_000);
    assert_eq!(
        q.lines[1].description,
        "non-refundable materials 500.00, platform_fee 200.00 kept: 700.00 deducted from 8,000.00"
    );

    f.non_refundable[0].amount_minor = 900_000;
    let q = evaluate(&p, &f, &situation(Reason::Other, later()));
    assert_eq!(q.amount_minor, 0);
    assert_eq!(line_sum(&q), 0);

    let none = policy(vec![Rule::DeductNonRefundable {
        kinds: vec![PartKind::Other],
    }]);
    let q = evaluate(&none, &facts(), &situation(Reason::Other, later()));
    assert_eq!(q.amount_minor, 800_000);
    assert_eq!(q.lines[1].description, "no non-refundable other parts: no effect");
}

#[test]
fn pro_rata_sessions_keeps_the_unattended_share() {
    let p = policy(vec![Rule::ProRataSessions {}]);
    let q = evaluate(&p, &facts(), &situation(Reason::Other, later()));
    assert_eq!(q.amount_minor, 600_000);
    assert_eq!(
        q.lines[1].description,
        "3 of 12 sessions attended: keeps 9/12 of 8,000.00"
    );
    assert_eq!(q.lines[1].figures["kept_numerator"], 9);

    // Floor rounding: 100 · 2/3 = 66.67 → 66.
    let mut f = facts();
    f.paid_minor = 100;
    f.total_sessions = 3;
    f.attended_sessions = 1;
    assert_eq!(evaluate(&p, &f, &situation(Reason::Other, later())).amount_minor, 66);

    // More attended than scheduled counts as all of them.
    f.attended_sessions = 5;
    let q = evaluate(&p, &f, &situation(Reason::Other, later()));
    assert_eq!(q.amount_minor, 0);
    assert!(q.lines[1].description.contains("(counted as 3)"));

    // No sessions: no change.
    f.total_sessions = 0;
    let q = evaluate(&p, &f, &situation(Reason::Other, later()));
    assert_eq!(q.amount_minor, 100);
    assert_eq!(q.lines[1].description, "no sessions scheduled: no change");
}

#[test]
fn pro_rata_time_keeps_the_unelapsed_share() {
    let p = policy(vec![Rule::ProRataTime {}]);
    // 30 of 90 days elapsed → keeps 60/90.
    let q = evaluate(&p, &facts(), &situation(Reason::Other, t(2026, 3, 31)));
    assert_eq!(q.amount_minor, 533_333);
    assert!(
        q.lines[1]
            .description
            .starts_with("30.0 of 90.0 days of the course period"),
        "{}",
        q.lines[1].description
    );
    // Before enrolment nothing has elapsed; after the end everything has.
    assert_eq!(
        evaluate(&p, &facts(), &situation(Reason::Other, t(2026, 1, 1))).amount_minor,
        800_000
    );
    assert_eq!(
        evaluate(&p, &facts(), &situation(Reason::Other, t(2027, 1, 1))).amount_minor,
        0
    );

    let mut f = facts();
    f.service_ends_at = None;
    let q = evaluate(&p, &f, &situation(Reason::Other, t(2026, 3, 31)));
    assert_eq!(q.amount_minor, 800_000);
    assert_eq!(q.lines[1].description, "no service end date: no change");
}

#[test]
fn tiers_by_sessions_follow_the_standard_table() {
    let p = policy(vec![Rule::TiersByConsumed {
        basis: Basis::Sessions,
        tiers: STANDARD_TIERS.to_vec(),
    }]);
    let at = |attended: u32| {
        let mut f = facts();
        f.attended_sessions = attended;
        f.total_sessions = 10;
        evaluate(&p, &f, &situation(Reason::CourseQuality, later()))
    };
    assert_eq!(at(0).amount_minor, 560_000);
    assert_eq!(at(3).amount_minor, 560_000, "exactly 30% is still the first tier");
    assert_eq!(at(4).amount_minor, 320_000);
    assert_eq!(at(6).amount_minor, 320_000, "exactly 60% is still the second tier");
    let past = at(7);
    assert_eq!(past.amount_minor, 0);
    assert_eq!(
        past.lines[1].description,
        "7 of 10 sessions attended, 70.00% consumed: past the last tier (up to 60%), nothing refunded"
    );
    assert_eq!(
        at(3).lines[1].description,
        "3 of 10 sessions attended, 30.00% consumed: the tier up to 30% refunds 70% of 8,000.00"
    );
}

#[test]
fn tiers_compare_the_consumed_share_exactly() {
    // 1 of 3 = 33.33…% is more than 33%, so it falls in the second tier.
    let p = policy(vec![Rule::TiersByConsumed {
        basis: Basis::Sessions,
        tiers: vec![
            Tier {
                up_to_percent: 33,
                refund_percent: 90,
            },
            Tier {
                up_to_percent: 100,
                refund_percent: 10,
            },
        ],
    }]);
    let mut f = facts();
    f.total_sessions = 3;
    f.attended_sessions = 1;
    let q = evaluate(&p, &f, &situation(Reason::Other, later()));
    assert_eq!(q.amount_minor, 80_000);
    assert_eq!(q.lines[1].figures["tier_index"], 1);
    assert_eq!(q.lines[1].figures["consumed_basis_points"], 3333);
}

#[test]
fn tiers_by_time_use_the_elapsed_share() {
    let p = policy(vec![Rule::TiersByConsumed {
        basis: Basis::Time,
        tiers: STANDARD_TIERS.to_vec(),
    }]);
    // Day 27 of 90 = 30% → 70%; day 28 → 40%; day 55 → 0.
    let start = t(2026, 3, 1);
    let amount =
        |days: i64| evaluate(&p, &facts(), &situation(Reason::Other, start + Duration::days(days))).amount_minor;
    assert_eq!(amount(27), 560_000);
    assert_eq!(amount(28), 320_000);
    assert_eq!(amount(54), 320_000);
    assert_eq!(amount(55), 0);

    let mut f = facts();
    f.service_ends_at = None;
    let q = evaluate(&p, &f, &situation(Reason::Other, start));
    assert_eq!(q.amount_minor, 800_000);
    assert_eq!(
        q.lines[1].description,
        "no service end date: consumption by time unknown, no change"
    );
}

#[test]
fn cap_takes_the_lower_limit() {
    let both = policy(vec![Rule::Cap {
        max_minor: Some(500_000),
        max_percent_of_paid: Some(50),
    }]);
    let q = evaluate(&both, &facts(), &situation(Reason::Other, later()));
    assert_eq!(q.amount_minor, 400_000);
    assert_eq!(
        q.lines[1].description,
        "capped at the lower of 5,000.00 and 50% of 8,000.00 paid = 4,000.00: 8,000.00 lowered to 4,000.00"
    );
    let amount_only = policy(vec![Rule::Cap {
        max_minor: Some(300_000),
        max_percent_of_paid: None,
    }]);
    assert_eq!(
        evaluate(&amount_only, &facts(), &situation(Reason::Other, later())).amount_minor,
        300_000
    );
    let roomy = policy(vec![Rule::Cap {
        max_minor: None,
        max_percent_of_paid: Some(100),
    }]);
    let q = evaluate(&roomy, &facts(), &situation(Reason::Other, later()));
    assert_eq!(q.amount_minor, 800_000);
    assert_eq!(q.lines[1].amount_minor, 0);
}

#[test]
fn already_refunded_reduces_what_is_left_and_never_below_zero() {
    let p = policy(vec![Rule::ProRataSessions {}]);
    let mut f = facts();
    f.already_refunded_minor = 200_000;
    let q = evaluate(&p, &f, &situation(Reason::Other, later()));
    assert_eq!(q.lines[1].rule, "already_refunded");
    assert_eq!(q.lines[1].amount_minor, -200_000);
    assert_eq!(q.amount_minor, 450_000);

    f.already_refunded_minor = 900_000;
    let q = evaluate(&p, &f, &situation(Reason::Other, later()));
    assert_eq!(q.amount_minor, 0);
    let last = q.lines.last().unwrap();
    assert_eq!(last.rule, "limit");
    assert_eq!(last.amount_minor, 100_000);
    assert_eq!(line_sum(&q), 0);
}

#[test]
fn standard_preset_quotes_with_lines() {
    let p = Policy::preset("standard").unwrap();
    let mut f = facts();
    f.discount_minor = 100_000;
    f.non_refundable = vec![Part {
        kind: PartKind::Materials,
        amount_minor: 80_000,
    }];
    let q = evaluate(&p, &f, &situation(Reason::Schedule, later()));
    // 8,000 − 800 materials = 7,200; 3 of 12 = 25% → 70% = 5,040.
    assert_eq!(q.amount_minor, 504_000);
    assert_eq!(q.currency, "CNY");
    let rules: Vec<&str> = q.lines.iter().map(|l| l.rule.as_str()).collect();
    assert_eq!(
        rules,
        [
            "paid",
            "cooling_off",
            "full_for_reasons",
            "deduct_non_refundable",
            "tiers_by_consumed"
        ]
    );
    assert_eq!(
        q.lines[0].description,
        "paid 8,000.00 CNY (after a discount of 1,000.00)"
    );
    assert_eq!(line_sum(&q), q.amount_minor);
    let text = explain_text(&q);
    assert!(text.starts_with("Refund quote: 5,040.00 CNY\n"), "{text}");
    assert!(text.contains("-2,160.00"), "{text}");
    assert!(text.trim_end().ends_with("= 5,040.00  total"), "{text}");
}

#[test]
fn presets_are_valid_and_named() {
    let names: Vec<&str> = Policy::presets().iter().map(|(n, _, _)| *n).collect();
    assert_eq!(names, ["standard", "pro_rata_sessions", "pro_rata_time"]);
    for (name, description, p) in Policy::presets() {
        assert!(p.validate().is_ok(), "{name}");
        assert!(!description.is_empty());
        assert_eq!(Policy::parse(&serde_json::to_value(&p).unwrap()).unwrap(), p, "{name}");
    }
    assert!(Policy::preset("nope").is_none());
}

#[test]
fn money_is_formatted_by_the_currency_minor_unit() {
    assert_eq!(format_minor(800_000, "CNY"), "8,000.00");
    assert_eq!(format_minor(-5, "USD"), "-0.05");
    assert_eq!(format_minor(1_234_567, "JPY"), "1,234,567");
    assert_eq!(format_minor(1_500, "KWD"), "1.500");
    assert_eq!(format_minor(i64::MIN, "CNY"), "-92,233,720,368,547,758.08");
}

// ---- JSON and validation -----------------------------------------------------------------------

#[test]
fn policy_json_shape() {
    let p = Policy::preset("standard").unwrap();
    assert_eq!(
        serde_json::to_value(&p).unwrap(),
        json!({ "rules": [
            { "type": "cooling_off", "days": 7 },
            { "type": "full_for_reasons", "reasons": ["duplicate_charge"] },
            { "type": "deduct_non_refundable", "kinds": ["materials", "platform_fee"] },
            { "type": "tiers_by_consumed", "basis": "sessions", "tiers": [
                { "up_to_percent": 30, "refund_percent": 70 },
                { "up_to_percent": 60, "refund_percent": 40 },
            ] },
        ] })
    );
    let pro_rata = json!({ "rules": [{ "type": "pro_rata_sessions" }, { "type": "cap", "max_percent_of_paid": 80 }] });
    let parsed = Policy::parse(&pro_rata).unwrap();
    assert_eq!(parsed.rules[0], Rule::ProRataSessions {});
    assert_eq!(serde_json::to_value(&parsed).unwrap(), pro_rata);
    // The derived Deserialize reads the same shape and is as strict about unknown fields.
    assert_eq!(serde_json::from_value::<Policy>(pro_rata).unwrap(), parsed);
    assert!(serde_json::from_value::<Policy>(json!({ "rules": [{ "type": "pro_rata_time", "x": 1 }] })).is_err());
    assert!(
        serde_json::from_value::<Policy>(json!({ "rules": [{ "type": "cooling_off", "days": 7, "x": 1 }] })).is_err()
    );
}

#[test]
fn parse_rejects_unknown_rule_types_and_fields_with_paths() {
    let errors = errors_of(json!({
        "rules": [
            { "type": "cooling_off", "days": 7 },
            { "type": "loyalty_bonus" },
            { "type": "pro_rata_time", "extra": true },
            { "days": 3 },
            "cap",
        ],
        "name": "x",
    }));
    let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        ["name", "rules[1].type", "rules[2].extra", "rules[3].type", "rules[4]"]
    );
    assert!(
        errors[1]
            .1
            .starts_with("unknown rule type `loyalty_bonus`; expected one of cooling_off"),
        "{}",
        errors[1].1
    );
    assert_eq!(errors[2].1, "unknown field; this rule takes no fields");
    assert_eq!(errors[4].1, "must be an object, got a string");
}

#[test]
fn parse_reports_field_types_and_missing_fields() {
    assert_eq!(
        fields_of(json!({ "rules": [
            { "type": "cooling_off" },
            { "type": "cooling_off", "days": "7" },
            { "type": "full_for_reasons", "reasons": ["teacher", "boredom"] },
            { "type": "deduct_non_refundable", "kinds": "materials" },
            { "type": "tiers_by_consumed", "basis": "lessons", "tiers": [{ "up_to_percent": 30, "refund": 70 }] },
            { "type": "cap", "max_minor": -1, "max_percent_of_paid": 1.5 },
        ] })),
        [
            "rules[0].days",
            "rules[1].days",
            "rules[2].reasons[1]",
            "rules[3].kinds",
            "rules[4].basis",
            "rules[4].tiers[0].refund_percent",
            "rules[4].tiers[0].refund",
            "rules[5].max_percent_of_paid",
        ]
    );
    assert_eq!(fields_of(json!([])), ["policy"]);
    assert_eq!(fields_of(json!({})), ["rules"]);
    assert_eq!(fields_of(json!({ "rules": {} })), ["rules"]);
}

#[test]
fn parse_checks_parameters() {
    let errors = errors_of(json!({ "rules": [
        { "type": "cooling_off", "days": 0 },
        { "type": "cooling_off", "days": 366 },
        { "type": "full_for_reasons", "reasons": [] },
        { "type": "deduct_non_refundable", "kinds": [] },
        { "type": "cap" },
        { "type": "cap", "max_minor": -5, "max_percent_of_paid": 101 },
        { "type": "tiers_by_consumed", "basis": "time", "tiers": [] },
    ] }));
    let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        [
            "rules[0].days",
            "rules[1].days",
            "rules[2].reasons",
            "rules[3].kinds",
            "rules[4]",
            "rules[5].max_minor",
            "rules[5].max_percent_of_paid",
            "rules[6].tiers",
        ]
    );
    assert_eq!(errors[0].1, "must be 1 to 365, got 0");
    assert_eq!(fields_of(json!({ "rules": [] })), ["rules"]);
    let many: Vec<_> = (0..51).map(|_| json!({ "type": "pro_rata_sessions" })).collect();
    assert_eq!(
        errors_of(json!({ "rules": many })),
        [("rules".to_owned(), "must have at most 50 rules, got 51".to_owned())]
    );
}

#[test]
fn parse_checks_tier_order() {
    let errors = errors_of(json!({ "rules": [
        { "type": "pro_rata_time" },
        { "type": "pro_rata_time" },
        { "type": "tiers_by_consumed", "basis": "sessions", "tiers": [
            { "up_to_percent": 30, "refund_percent": 70 },
            { "up_to_percent": 30, "refund_percent": 80 },
            { "up_to_percent": 0, "refund_percent": 101 },
            { "up_to_percent": 101, "refund_percent": 10 },
        ] },
    ] }));
    let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        [
            "rules[2].tiers[1].up_to_percent",
            "rules[2].tiers[1].refund_percent",
            "rules[2].tiers[2].up_to_percent",
            "rules[2].tiers[2].refund_percent",
            "rules[2].tiers[3].up_to_percent",
        ]
    );
    assert_eq!(errors[0].1, "must be greater than the previous tier's 30, got 30");
    assert!(
        errors[1]
            .1
            .starts_with("must not exceed the previous tier's 70, got 80")
    );
}

#[test]
fn validate_checks_policies_built_in_code() {
    assert!(policy(vec![]).validate().is_err());
    let bad = policy(vec![Rule::ProRataSessions {}, Rule::CoolingOff { days: 0 }]);
    let errors = bad.validate().unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field, "rules[1].days");
}

#[test]
fn facts_validate() {
    assert!(facts().validate().is_ok());
    let mut f = facts();
    f.paid_minor = -1;
    f.currency = "cny".into();
    f.already_refunded_minor = -1;
    f.service_ends_at = Some(f.enrolled_at);
    f.non_refundable = vec![Part {
        kind: PartKind::Other,
        amount_minor: -3,
    }];
    let fields: Vec<String> = f.validate().unwrap_err().into_iter().map(|e| e.field).collect();
    assert_eq!(
        fields,
        [
            "paid_minor",
            "already_refunded_minor",
            "currency",
            "service_ends_at",
            "non_refundable[0].amount_minor"
        ]
    );
    let unknown = json!({
        "paid_minor": 1, "currency": "CNY", "enrolled_at": "2026-03-01T00:00:00Z",
        "total_sessions": 1, "attended_sessions": 0, "coupon": "x",
    });
    assert!(serde_json::from_value::<Facts>(unknown).is_err());
}

// ---- properties --------------------------------------------------------------------------------

fn reason() -> impl Strategy<Value = Reason> {
    proptest::sample::select(Reason::ALL.to_vec())
}

fn part_kind() -> impl Strategy<Value = PartKind> {
    proptest::sample::select(PartKind::ALL.to_vec())
}

/// Strictly increasing `up_to_percent` in 1..=100 and non-increasing `refund_percent` ≤ 100.
fn tiers() -> impl Strategy<Value = Vec<Tier>> {
    proptest::collection::btree_set(1u32..=100, 1..6).prop_flat_map(|ups| {
        let n = ups.len();
        proptest::collection::vec(0u32..=100, n).prop_map(move |mut refunds| {
            refunds.sort_unstable_by(|a, b| b.cmp(a));
            ups.iter()
                .zip(refunds)
                .map(|(&up_to_percent, refund_percent)| Tier {
                    up_to_percent,
                    refund_percent,
                })
                .collect()
        })
    })
}

fn rule() -> impl Strategy<Value = Rule> {
    prop_oneof![
        (1u32..=365).prop_map(|days| Rule::CoolingOff { days }),
        proptest::collection::vec(reason(), 1..4).prop_map(|reasons| Rule::FullForReasons { reasons }),
        proptest::collection::vec(part_kind(), 1..4).prop_map(|kinds| Rule::DeductNonRefundable { kinds }),
        Just(Rule::ProRataSessions {}),
        Just(Rule::ProRataTime {}),
        (prop_oneof![Just(Basis::Sessions), Just(Basis::Time)], tiers())
            .prop_map(|(basis, tiers)| Rule::TiersByConsumed { basis, tiers }),
        (
            proptest::option::of(0i64..2_000_000_000),
            proptest::option::of(0u32..=100)
        )
            .prop_filter("a cap has a limit", |(a, p)| a.is_some() || p.is_some())
            .prop_map(|(max_minor, max_percent_of_paid)| Rule::Cap {
                max_minor,
                max_percent_of_paid
            }),
    ]
}

fn valid_policy() -> impl Strategy<Value = Policy> {
    proptest::collection::vec(rule(), 1..8).prop_map(|rules| Policy { rules })
}

const DAY: i64 = 86_400;

fn facts_strategy() -> impl Strategy<Value = Facts> {
    (0i64..=1_000_000_000)
        .prop_flat_map(|paid| {
            (
                Just(paid),
                prop_oneof![Just(0i64), 0..=paid + 1_000_000],
                proptest::collection::vec((part_kind(), 0..=paid / 2 + 1), 0..4),
                0i64..1_000_000,
                0u32..40,
                0u32..50,
                // Enrolment somewhere in 2024–2026, to the second.
                1_704_067_200i64..1_704_067_200 + 3 * 365 * DAY,
                proptest::option::of(-10 * DAY..400 * DAY),
            )
        })
        .prop_map(|(paid, refunded, parts, discount, total, attended, enrolled, length)| {
            let enrolled_at = DateTime::from_timestamp(enrolled, 0).unwrap();
            Facts {
                paid_minor: paid,
                currency: "CNY".into(),
                enrolled_at,
                service_ends_at: length.map(|l| enrolled_at + Duration::seconds(l)),
                total_sessions: total,
                attended_sessions: attended,
                non_refundable: parts
                    .into_iter()
                    .map(|(kind, amount_minor)| Part { kind, amount_minor })
                    .collect(),
                discount_minor: discount,
                already_refunded_minor: refunded,
            }
        })
}

/// A refund date from a month before enrolment to well after a year-long course, to the millisecond.
fn situation_strategy(enrolled_at: DateTime<Utc>) -> impl Strategy<Value = Situation> {
    (reason(), -30 * DAY * 1000..500 * DAY * 1000).prop_map(move |(reason, offset_ms)| Situation {
        reason,
        at: enrolled_at + Duration::milliseconds(offset_ms),
    })
}

fn case() -> impl Strategy<Value = (Policy, Facts, Situation)> {
    (valid_policy(), facts_strategy()).prop_flat_map(|(p, f)| {
        let s = situation_strategy(f.enrolled_at);
        (Just(p), Just(f), s)
    })
}

fn remaining(f: &Facts) -> i64 {
    (f.paid_minor - f.already_refunded_minor).max(0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn prop_generated_policies_are_valid_and_round_trip((p, _f, _s) in case()) {
        prop_assert!(p.validate().is_ok());
        prop_assert_eq!(Policy::parse(&serde_json::to_value(&p).unwrap()).unwrap(), p);
    }

    /// Property 1: the lines add up exactly to the amount.
    #[test]
    fn prop_lines_sum_to_amount((p, f, s) in case()) {
        let q = evaluate(&p, &f, &s);
        prop_assert_eq!(line_sum(&q), q.amount_minor);
        prop_assert_eq!(q.lines[0].rule.as_str(), "paid");
        prop_assert_eq!(q.lines[0].amount_minor, f.paid_minor);
        prop_assert_eq!(&q.currency, &f.currency);
    }

    /// Property 2: 0 ≤ amount ≤ paid − already refunded.
    #[test]
    fn prop_amount_within_what_is_left((p, f, s) in case()) {
        let q = evaluate(&p, &f, &s);
        prop_assert!(q.amount_minor >= 0);
        prop_assert!(q.amount_minor <= remaining(&f));
        if f.already_refunded_minor >= f.paid_minor {
            prop_assert_eq!(q.amount_minor, 0);
        }
    }

    /// Property 3: inside a cooling-off period, everything left is refunded.
    #[test]
    fn prop_cooling_off_refunds_everything_left((p, f, s) in case()) {
        let q = evaluate(&p, &f, &s);
        let inside = p.rules.iter().any(|r| matches!(r,
            Rule::CoolingOff { days } if s.at < f.enrolled_at + Duration::days(i64::from(*days))));
        prop_assert_eq!(q.in_cooling_off, inside);
        if inside {
            prop_assert_eq!(q.amount_minor, remaining(&f));
        }
    }

    /// Property 3, with the refund date drawn inside the first cooling-off period (not left to chance).
    #[test]
    fn prop_cooling_off_inside_by_construction(
        (p, f, s) in case(),
        days in 1u32..=365,
        position in 0u32..=1000,
        first in any::<bool>(),
    ) {
        let mut p = p;
        let rule = Rule::CoolingOff { days };
        if first { p.rules.insert(0, rule) } else { p.rules.push(rule) }
        let window_ms = i64::from(days) * DAY * 1000;
        let at = f.enrolled_at + Duration::milliseconds(window_ms * i64::from(position) / 1001);
        let q = evaluate(&p, &f, &Situation { at, ..s });
        prop_assert!(q.in_cooling_off);
        prop_assert_eq!(q.amount_minor, remaining(&f));
        prop_assert_eq!(line_sum(&q), q.amount_minor);
    }

    /// Property 4: more attended sessions never raise the amount.
    #[test]
    fn prop_more_sessions_never_raise_the_amount((p, f, s) in case(), more in 0u32..20) {
        let before = evaluate(&p, &f, &s);
        let mut g = f.clone();
        g.attended_sessions += more;
        let after = evaluate(&p, &g, &s);
        prop_assert!(after.amount_minor <= before.amount_minor, "{} > {}", after.amount_minor, before.amount_minor);
    }

    /// Property 4: a later refund date never raises the amount.
    #[test]
    fn prop_later_never_raises_the_amount((p, f, s) in case(), later_ms in 0i64..200 * DAY * 1000) {
        let before = evaluate(&p, &f, &s);
        let t = Situation { at: s.at + Duration::milliseconds(later_ms), ..s.clone() };
        let after = evaluate(&p, &f, &t);
        prop_assert!(after.amount_minor <= before.amount_minor, "{} > {}", after.amount_minor, before.amount_minor);
    }

    /// Property 4: both at once.
    #[test]
    fn prop_later_and_more_sessions_never_raise_the_amount(
        (p, f, s) in case(),
        more in 0u32..20,
        later_ms in 0i64..200 * DAY * 1000,
    ) {
        let before = evaluate(&p, &f, &s);
        let mut g = f.clone();
        g.attended_sessions += more;
        let t = Situation { at: s.at + Duration::milliseconds(later_ms), ..s.clone() };
        let after = evaluate(&p, &g, &t);
        prop_assert!(after.amount_minor <= before.amount_minor, "{} > {}", after.amount_minor, before.amount_minor);
    }
}
