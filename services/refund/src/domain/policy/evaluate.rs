//! Applying a policy to the facts of one enrolment: integer arithmetic only, floor rounding.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{Basis, Facts, Policy, Rule, Situation, Tier};

/// What the policy gives back, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub struct Quote {
    /// The refund, in integer minor units: exactly the sum of the lines' amounts.
    pub amount_minor: i64,
    pub currency: String,
    /// The policy has a cooling-off rule and the refund date falls inside it.
    pub in_cooling_off: bool,
    /// `paid`, then `already_refunded` (when not 0), then one line per rule evaluated, in order
    /// (a rule with no effect gives a 0 line; rules after one that stops evaluation are not
    /// evaluated), then `limit` when the amount had to be brought back into
    /// `0 ..= paid − already refunded`.
    pub lines: Vec<Line>,
}

/// One step of a quote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub struct Line {
    /// The rule's type, or `paid`, `already_refunded`, `limit`.
    pub rule: String,
    /// Human-readable English with the figures.
    pub description: String,
    /// The signed change this step makes to the running amount, in minor units.
    pub amount_minor: i64,
    /// The numbers used.
    #[schema(value_type = Object)]
    pub figures: Value,
}

/// Evaluates `policy` for `facts` in `situation`.
///
/// Negative amounts in `facts` (which [`Facts::validate`] rejects) count as 0.
pub fn evaluate(policy: &Policy, facts: &Facts, situation: &Situation) -> Quote {
    let paid = facts.paid_minor.max(0);
    let refunded = facts.already_refunded_minor.max(0);
    // Both in 0..=i64::MAX, so the difference cannot overflow.
    let remaining = paid - refunded;
    let cx = Context {
        facts,
        situation,
        paid,
        remaining: remaining.max(0),
    };

    let mut lines = vec![Line {
        rule: "paid".into(),
        description: if facts.discount_minor > 0 {
            format!(
                "paid {} {} (after a discount of {})",
                cx.money(paid),
                facts.currency,
                cx.money(facts.discount_minor)
            )
        } else {
            format!("paid {} {}", cx.money(paid), facts.currency)
        },
        amount_minor: paid,
        figures: json!({ "paid_minor": paid, "discount_minor": facts.discount_minor }),
    }];
    if refunded != 0 {
        lines.push(Line {
            rule: "already_refunded".into(),
            description: format!("already refunded {}", cx.money(refunded)),
            amount_minor: -refunded,
            figures: json!({ "already_refunded_minor": refunded }),
        });
    }

    let in_cooling_off = policy.rules.iter().any(|r| match r {
        Rule::CoolingOff { days } => cx.cooling_off_end(*days).is_none_or(|end| situation.at < end),
        _ => false,
    });

    // The running amount; always equal to the sum of the lines so far.
    let mut x = remaining;
    if remaining <= 0 {
        lines.push(Line {
            rule: "limit".into(),
            description: format!(
                "nothing left to refund: {} of {} paid already refunded; rules not evaluated",
                cx.money(refunded),
                cx.money(paid)
            ),
            amount_minor: -remaining,
            figures: json!({ "paid_minor": paid, "already_refunded_minor": refunded }),
        });
        x = 0;
    } else {
        for (index, rule) in policy.rules.iter().enumerate() {
            let step = cx.apply(rule, x);
            let mut figures = step.figures;
            if let Value::Object(map) = &mut figures {
                map.insert("index".into(), json!(index));
                map.insert("before_minor".into(), json!(x));
                map.insert("after_minor".into(), json!(step.after));
            }
            lines.push(Line {
                rule: rule.kind().into(),
                description: step.description,
                amount_minor: step.after - x,
                figures,
            });
            x = step.after;
            if step.stop {
                break;
            }
        }
        let clamped = x.clamp(0, remaining);
        if clamped != x {
            lines.push(Line {
                rule: "limit".into(),
                description: format!("limited to between 0 and the {} left to refund", cx.money(remaining)),
                amount_minor: clamped - x,
                figures: json!({ "before_minor": x, "after_minor": clamped, "remaining_minor": remaining }),
            });
            x = clamped;
        }
    }

    Quote {
        amount_minor: x,
        currency: facts.currency.clone(),
        in_cooling_off,
        lines,
    }
}

/// A plain-text rendering of a quote, one line per step.
pub fn explain_text(q: &Quote) -> String {
    let total = format!("= {}", format_minor(q.amount_minor, &q.currency));
    let width = q
        .lines
        .iter()
        .map(|l| signed(l.amount_minor, &q.currency).len())
        .chain([total.len()])
        .max()
        .unwrap_or(0);
    let mut out = format!(
        "Refund quote: {} {}",
        format_minor(q.amount_minor, &q.currency),
        q.currency
    );
    if q.in_cooling_off {
        out.push_str(" (inside the cooling-off period)");
    }
    out.push('\n');
    for l in &q.lines {
        out.push_str(&format!(
            "  {:>width$}  {:<22} {}\n",
            signed(l.amount_minor, &q.currency),
            l.rule,
            l.description
        ));
    }
    out.push_str(&format!("  {total:>width$}  total\n"));
    out
}

fn signed(amount: i64, currency: &str) -> String {
    if amount >= 0 {
        format!("+{}", format_minor(amount, currency))
    } else {
        format_minor(amount, currency)
    }
}

/// Digits after the decimal point of a currency's minor unit (ISO 4217; 2 when not listed).
fn minor_digits(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "UYI" | "VND"
        | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// `800000` CNY → `8,000.00`; `1500` JPY → `1,500`.
pub fn format_minor(amount: i64, currency: &str) -> String {
    let digits = minor_digits(currency);
    let abs = amount.unsigned_abs();
    let unit = 10u64.pow(digits);
    let whole = (abs / unit).to_string();
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if amount < 0 { "-" } else { "" };
    if digits == 0 {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{:0width$}", abs % unit, width = digits as usize)
    }
}

/// `floor(x · num / den)` for `x ≥ 0`, `0 ≤ num ≤ den`, `den > 0`: stays within `0..=x`.
fn share(x: i64, num: i128, den: i128) -> i64 {
    let v = i128::from(x) * num / den;
    // 0 ≤ v ≤ x ≤ i64::MAX; the fallback is unreachable.
    i64::try_from(v).unwrap_or(x)
}

/// `n/d` as basis points (floor), for display.
fn basis_points(n: i128, d: i128) -> i128 {
    if d <= 0 { 0 } else { n * 10_000 / d }
}

fn percent_text(bps: i128) -> String {
    format!("{}.{:02}%", bps / 100, bps % 100)
}

/// Milliseconds as days with one decimal (floor).
fn days_text(ms: i128) -> String {
    let tenths = ms * 10 / 86_400_000;
    format!("{}.{}", tenths / 10, tenths % 10)
}

fn moment(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn millis(t: DateTime<Utc>) -> i128 {
    i128::from(t.timestamp_millis())
}

/// What one rule does to the running amount.
struct Step {
    after: i64,
    stop: bool,
    description: String,
    figures: Value,
}

impl Step {
    fn keep(x: i64, description: String, figures: Value) -> Self {
        Self {
            after: x,
            stop: false,
            description,
            figures,
        }
    }
}

/// A consumed share `num/den` (`0 ≤ num ≤ den`, `den > 0`), or why it is unknown.
enum Consumed {
    Share { num: i128, den: i128, text: String },
    Unknown(String),
}

struct Context<'a> {
    facts: &'a Facts,
    situation: &'a Situation,
    paid: i64,
    /// `paid − already refunded`, at least 0.
    remaining: i64,
}

impl Context<'_> {
    fn money(&self, amount: i64) -> String {
        format_minor(amount, &self.facts.currency)
    }

    /// `None` when the end is past the representable dates (then every date is inside).
    fn cooling_off_end(&self, days: u32) -> Option<DateTime<Utc>> {
        self.facts
            .enrolled_at
            .checked_add_signed(Duration::days(i64::from(days)))
    }

    fn sessions(&self) -> Consumed {
        let total = self.facts.total_sessions;
        let attended = self.facts.attended_sessions;
        if total == 0 {
            return Consumed::Unknown("no sessions scheduled".into());
        }
        let counted = attended.min(total);
        let text = if attended > total {
            format!("{attended} of {total} sessions attended (counted as {total})")
        } else {
            format!("{attended} of {total} sessions attended")
        };
        Consumed::Share {
            num: i128::from(counted),
            den: i128::from(total),
            text,
        }
    }

    /// Elapsed time of `[enrolled_at, service_ends_at]` at the refund date, in milliseconds.
    fn time(&self) -> Consumed {
        let Some(end) = self.facts.service_ends_at else {
            return Consumed::Unknown("no service end date".into());
        };
        let start = self.facts.enrolled_at;
        let at = self.situation.at;
        let period = millis(end) - millis(start);
        if period <= 0 {
            // A course period of no length is all consumed once it has ended.
            let ended = at >= end;
            return Consumed::Share {
                num: i128::from(ended),
                den: 1,
                text: format!(
                    "the course period ends {} (no length){} at {}",
                    moment(end),
                    if ended {
                        " and has ended"
                    } else {
                        " and has not started"
                    },
                    moment(at)
                ),
            };
        }
        let elapsed = (millis(at) - millis(start)).clamp(0, period);
        Consumed::Share {
            num: elapsed,
            den: period,
            text: format!(
                "{} of {} days of the course period ({} → {}) elapsed at {}",
                days_text(elapsed),
                days_text(period),
                moment(start),
                moment(end),
                moment(at)
            ),
        }
    }

    fn apply(&self, rule: &Rule, x: i64) -> Step {
        match rule {
            Rule::CoolingOff { days } => {
                let end = self.cooling_off_end(*days);
                let inside = end.is_none_or(|end| self.situation.at < end);
                let end_text = end.map_or_else(|| "never".to_owned(), moment);
                let figures = json!({
                    "days": days,
                    "enrolled_at": self.facts.enrolled_at,
                    "ends_at": end,
                    "at": self.situation.at,
                    "inside": inside,
                });
                if inside {
                    Step {
                        after: self.remaining,
                        stop: true,
                        description: format!(
                            "inside the {days}-day cooling-off period (ends {end_text}): full refund of the {} left, \
                             no reason needed",
                            self.money(self.remaining)
                        ),
                        figures,
                    }
                } else {
                    Step::keep(
                        x,
                        format!("the {days}-day cooling-off period ended {end_text}: no effect"),
                        figures,
                    )
                }
            }
            Rule::FullForReasons { reasons } => {
                let reason = self.situation.reason;
                let names: Vec<&str> = reasons.iter().map(|r| r.as_str()).collect();
                let figures = json!({ "reason": reason, "reasons": reasons });
                if reasons.contains(&reason) {
                    Step {
                        after: self.remaining,
                        stop: true,
                        description: format!(
                            "reason {} is refunded in full: the {} left",
                            reason.as_str(),
                            self.money(self.remaining)
                        ),
                        figures,
                    }
                } else {
                    Step::keep(
                        x,
                        format!(
                            "reason {} is not one of {}: no effect",
                            reason.as_str(),
                            names.join(", ")
                        ),
                        figures,
                    )
                }
            }
            Rule::DeductNonRefundable { kinds } => {
                let parts: Vec<_> = self
                    .facts
                    .non_refundable
                    .iter()
                    .filter(|p| kinds.contains(&p.kind))
                    .collect();
                let total: i128 = parts.iter().map(|p| i128::from(p.amount_minor.max(0))).sum();
                let after = i64::try_from((i128::from(x) - total).max(0)).unwrap_or(0);
                let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
                let figures = json!({
                    "kinds": kinds,
                    "parts": parts,
                    "total_minor": i64::try_from(total).unwrap_or(i64::MAX),
                });
                let description = if parts.is_empty() {
                    format!("no non-refundable {} parts: no effect", names.join(" or "))
                } else {
                    let listed: Vec<String> = parts
                        .iter()
                        .map(|p| format!("{} {}", p.kind.as_str(), self.money(p.amount_minor.max(0))))
                        .collect();
                    let total_text = i64::try_from(total).map_or_else(|_| total.to_string(), |t| self.money(t));
                    format!(
                        "non-refundable {} kept: {total_text} deducted from {}{}",
                        listed.join(", "),
                        self.money(x),
                        if i128::from(x) < total { " (not below 0)" } else { "" }
                    )
                };
                Step::keep(after, description, figures)
            }
            Rule::ProRataSessions {} => match self.sessions() {
                Consumed::Unknown(why) => Step::keep(
                    x,
                    format!("{why}: no change"),
                    json!({ "total_sessions": self.facts.total_sessions }),
                ),
                Consumed::Share { num, den, text } => {
                    let left = den - num;
                    Step::keep(
                        share(x, left, den),
                        format!("{text}: keeps {left}/{den} of {}", self.money(x)),
                        json!({
                            "total_sessions": self.facts.total_sessions,
                            "attended_sessions": self.facts.attended_sessions,
                            "counted_sessions": num,
                            "kept_numerator": left,
                            "kept_denominator": den,
                        }),
                    )
                }
            },
            Rule::ProRataTime {} => match self.time() {
                Consumed::Unknown(why) => {
                    Step::keep(x, format!("{why}: no change"), json!({ "service_ends_at": null }))
                }
                Consumed::Share { num, den, text } => {
                    let left = den - num;
                    Step::keep(
                        share(x, left, den),
                        format!(
                            "{text}: keeps the {} not yet elapsed of {}",
                            percent_text(basis_points(left, den)),
                            self.money(x)
                        ),
                        json!({
                            "enrolled_at": self.facts.enrolled_at,
                            "service_ends_at": self.facts.service_ends_at,
                            "at": self.situation.at,
                            "elapsed_ms": num,
                            "period_ms": den,
                            "kept_numerator": left,
                            "kept_denominator": den,
                        }),
                    )
                }
            },
            Rule::TiersByConsumed { basis, tiers } => {
                let consumed = match basis {
                    Basis::Sessions => self.sessions(),
                    Basis::Time => self.time(),
                };
                match consumed {
                    Consumed::Unknown(why) => Step::keep(
                        x,
                        format!("{why}: consumption by {} unknown, no change", basis.as_str()),
                        json!({ "basis": basis, "tiers": tiers }),
                    ),
                    Consumed::Share { num, den, text } => self.tier(x, *basis, tiers, num, den, text),
                }
            }
            Rule::Cap {
                max_minor,
                max_percent_of_paid,
            } => {
                let by_amount = max_minor.map(|m| m.max(0));
                let by_percent = max_percent_of_paid.map(|p| share(self.paid, i128::from(p.min(100)), 100));
                let limit = match (by_amount, by_percent) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                let mut parts = Vec::new();
                if let Some(a) = by_amount {
                    parts.push(self.money(a));
                }
                if let (Some(p), Some(b)) = (max_percent_of_paid, by_percent) {
                    parts.push(format!("{p}% of {} paid = {}", self.money(self.paid), self.money(b)));
                }
                let figures = json!({
                    "max_minor": max_minor,
                    "max_percent_of_paid": max_percent_of_paid,
                    "limit_minor": limit,
                });
                match limit {
                    None => Step::keep(x, "cap without a limit: no change".into(), figures),
                    Some(limit) => {
                        let cap = if parts.len() > 1 {
                            format!("the lower of {}", parts.join(" and "))
                        } else {
                            parts.join("")
                        };
                        let description = if x > limit {
                            format!("capped at {cap}: {} lowered to {}", self.money(x), self.money(limit))
                        } else {
                            format!("{} is within the cap of {cap}", self.money(x))
                        };
                        Step::keep(x.min(limit), description, figures)
                    }
                }
            }
        }
    }

    /// Picks the first tier whose `up_to_percent` is at least the consumed share `num/den`,
    /// compared exactly (`num · 100 ≤ up_to · den`).
    fn tier(&self, x: i64, basis: Basis, tiers: &[Tier], num: i128, den: i128, text: String) -> Step {
        let bps = basis_points(num, den);
        let picked = tiers
            .iter()
            .position(|t| num * 100 <= i128::from(t.up_to_percent) * den);
        let mut figures = json!({
            "basis": basis,
            "tiers": tiers,
            "consumed_numerator": num,
            "consumed_denominator": den,
            "consumed_basis_points": bps,
            "tier_index": picked,
        });
        let consumed = format!("{text}, {} consumed", percent_text(bps));
        match picked {
            Some(i) => {
                let t = tiers[i];
                let pct = t.refund_percent.min(100);
                if let Value::Object(map) = &mut figures {
                    map.insert("refund_percent".into(), json!(pct));
                }
                Step::keep(
                    share(x, i128::from(pct), 100),
                    format!(
                        "{consumed}: the tier up to {}% refunds {pct}% of {}",
                        t.up_to_percent,
                        self.money(x)
                    ),
                    figures,
                )
            }
            None => {
                let last = tiers.last().map_or(0, |t| t.up_to_percent);
                if let Value::Object(map) = &mut figures {
                    map.insert("refund_percent".into(), json!(0));
                }
                Step::keep(
                    0,
                    format!("{consumed}: past the last tier (up to {last}%), nothing refunded"),
                    figures,
                )
            }
        }
    }
}
