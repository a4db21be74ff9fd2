//! The refund policy engine: how much of what a customer paid goes back, as data and pure functions.
//!
//! A [`Policy`] is an ordered list of [`Rule`]s, stored and exchanged as JSON
//! (`{"rules": [{"type": "cooling_off", "days": 7}, ...]}`) and checked by [`Policy::parse`].
//! [`evaluate`] applies it to the [`Facts`] of one enrolment in a [`Situation`] (a reason and a
//! moment, possibly a what-if date) and returns a [`Quote`]: the amount plus one [`Line`] per step,
//! whose signed amounts add up exactly to the quoted amount.
//!
//! The guarantees, held with integer arithmetic only (i128 intermediates, floor rounding):
//! 1. the lines sum to the amount;
//! 2. `0 ≤ amount ≤ paid − already refunded` (0 when nothing is left);
//! 3. inside a cooling-off period the amount is everything that is left;
//! 4. the amount never rises as more sessions are attended or as the refund date moves later,
//!    for any policy that [`Policy::validate`] accepts.
//!
//! Seed 003 gives the first rule: a 7-day cooling-off period after enrolment with a full refund
//! and no reason asked.

mod evaluate;
mod parse;

#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use evaluate::{Line, Quote, evaluate, explain_text, format_minor};
pub use parse::ROOT_FIELD;

/// Why the customer asks for the money back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Reason {
    CourseQuality,
    Teacher,
    Schedule,
    Relocation,
    DuplicateCharge,
    Other,
}

impl Reason {
    pub const ALL: [Reason; 6] = [
        Reason::CourseQuality,
        Reason::Teacher,
        Reason::Schedule,
        Reason::Relocation,
        Reason::DuplicateCharge,
        Reason::Other,
    ];

    /// The reason named `s` (`duplicate_charge`).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The wire name (`duplicate_charge`).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::CourseQuality => "course_quality",
            Reason::Teacher => "teacher",
            Reason::Schedule => "schedule",
            Reason::Relocation => "relocation",
            Reason::DuplicateCharge => "duplicate_charge",
            Reason::Other => "other",
        }
    }
}

/// What a non-refundable part of the price pays for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartKind {
    Materials,
    PlatformFee,
    Other,
}

impl PartKind {
    pub const ALL: [PartKind; 3] = [PartKind::Materials, PartKind::PlatformFee, PartKind::Other];

    /// The wire name (`platform_fee`).
    pub fn as_str(self) -> &'static str {
        match self {
            PartKind::Materials => "materials",
            PartKind::PlatformFee => "platform_fee",
            PartKind::Other => "other",
        }
    }
}

/// A part of the price that a policy may keep (books shipped, the platform fee).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct Part {
    pub kind: PartKind,
    /// Integer minor units, ≥ 0.
    pub amount_minor: i64,
}

/// What is known about one enrolment: the payment record and the course progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct Facts {
    /// What the customer paid after discounts, in integer minor units (≥ 0).
    pub paid_minor: i64,
    /// ISO 4217 code (`CNY`).
    pub currency: String,
    pub enrolled_at: DateTime<Utc>,
    /// The end of the course period, for pro-rata by time.
    #[serde(default)]
    pub service_ends_at: Option<DateTime<Utc>>,
    pub total_sessions: u32,
    /// Counted as `total_sessions` when larger.
    pub attended_sessions: u32,
    /// Parts of the price that a policy may keep.
    #[serde(default)]
    pub non_refundable: Vec<Part>,
    /// Informational: already reflected in `paid_minor`.
    #[serde(default)]
    pub discount_minor: i64,
    /// What earlier refunds of this enrolment paid back (≥ 0).
    #[serde(default)]
    pub already_refunded_minor: i64,
}

/// The refund being asked about: why, and when it would happen (quotes allow what-if dates).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct Situation {
    pub reason: Reason,
    pub at: DateTime<Utc>,
}

/// How consumption is measured by [`Rule::TiersByConsumed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Attended sessions out of the total.
    Sessions,
    /// Elapsed time out of `[enrolled_at, service_ends_at]`.
    Time,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Sessions => "sessions",
            Basis::Time => "time",
        }
    }
}

/// One step of a tier table: consumption up to `up_to_percent` refunds `refund_percent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct Tier {
    /// 1..=100, strictly increasing along the table.
    pub up_to_percent: u32,
    /// 0..=100, never increasing along the table.
    pub refund_percent: u32,
}

/// One step of a policy, applied in order to the running amount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    /// Strictly before `enrolled_at + days`: everything left is refunded and evaluation stops.
    CoolingOff { days: u32 },
    /// A request for one of these reasons gets everything left; evaluation stops.
    FullForReasons { reasons: Vec<Reason> },
    /// Subtracts the non-refundable parts of these kinds (never below 0).
    DeductNonRefundable { kinds: Vec<PartKind> },
    /// Keeps the share of sessions not yet attended: `floor(x · (total − attended) / total)`.
    ProRataSessions {},
    /// Keeps the share of `[enrolled_at, service_ends_at]` not yet elapsed.
    ProRataTime {},
    /// The consumed share picks the first tier whose `up_to_percent` is at least that share;
    /// past the last tier nothing is refunded.
    TiersByConsumed { basis: Basis, tiers: Vec<Tier> },
    /// Limits the amount to `max_minor` and/or `max_percent_of_paid` percent of what was paid.
    Cap {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_minor: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_percent_of_paid: Option<u32>,
    },
}

impl Rule {
    /// The `type` tag (`cooling_off`).
    pub fn kind(&self) -> &'static str {
        match self {
            Rule::CoolingOff { .. } => "cooling_off",
            Rule::FullForReasons { .. } => "full_for_reasons",
            Rule::DeductNonRefundable { .. } => "deduct_non_refundable",
            Rule::ProRataSessions {} => "pro_rata_sessions",
            Rule::ProRataTime {} => "pro_rata_time",
            Rule::TiersByConsumed { .. } => "tiers_by_consumed",
            Rule::Cap { .. } => "cap",
        }
    }
}

/// An ordered list of rules. Build one from untrusted JSON with [`Policy::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct Policy {
    pub rules: Vec<Rule>,
}

/// The most rules one policy may hold.
pub const MAX_RULES: usize = 50;

/// The tier table of the `standard` preset: up to 30% consumed → 70%, up to 60% → 40%, then nothing.
pub const STANDARD_TIERS: [Tier; 2] = [
    Tier {
        up_to_percent: 30,
        refund_percent: 70,
    },
    Tier {
        up_to_percent: 60,
        refund_percent: 40,
    },
];

impl Policy {
    /// The named presets, as (name, description, policy).
    pub fn presets() -> Vec<(&'static str, &'static str, Policy)> {
        let opening = || {
            vec![
                Rule::CoolingOff { days: 7 },
                Rule::FullForReasons {
                    reasons: vec![Reason::DuplicateCharge],
                },
                Rule::DeductNonRefundable {
                    kinds: vec![PartKind::Materials, PartKind::PlatformFee],
                },
            ]
        };
        let with = |last: Rule| {
            let mut rules = opening();
            rules.push(last);
            Policy { rules }
        };
        vec![
            (
                "standard",
                "Full refund within 7 days of enrolment and for duplicate charges; otherwise materials and the \
                 platform fee are kept and the rest is refunded by the share of sessions attended: 70% up to 30% \
                 consumed, 40% up to 60%, nothing after 60%.",
                with(Rule::TiersByConsumed {
                    basis: Basis::Sessions,
                    tiers: STANDARD_TIERS.to_vec(),
                }),
            ),
            (
                "pro_rata_sessions",
                "Full refund within 7 days of enrolment and for duplicate charges; otherwise materials and the \
                 platform fee are kept and the sessions not yet attended are refunded.",
                with(Rule::ProRataSessions {}),
            ),
            (
                "pro_rata_time",
                "Full refund within 7 days of enrolment and for duplicate charges; otherwise materials and the \
                 platform fee are kept and the part of the course period not yet elapsed is refunded.",
                with(Rule::ProRataTime {}),
            ),
        ]
    }

    /// One preset by name.
    pub fn preset(name: &str) -> Option<Policy> {
        Self::presets()
            .into_iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, _, p)| p)
    }
}
