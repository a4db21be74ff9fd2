//! Checking policies and facts: every problem at once, each with the path of its field
//! (`rules[2].tiers[1].refund_percent`).

use platform::error::FieldError;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{Facts, MAX_RULES, Policy, Rule, Tier};

/// The field path of problems with the policy document itself (not an object, unknown keys).
pub const ROOT_FIELD: &str = "policy";

const RULE_TYPES: [&str; 7] = [
    "cooling_off",
    "full_for_reasons",
    "deduct_non_refundable",
    "pro_rata_sessions",
    "pro_rata_time",
    "tiers_by_consumed",
    "cap",
];

#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() { Ok(()) } else { Err(self.0) }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// The keys of one JSON object, read one by one so each problem names its own field.
struct Fields<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn of(value: &'a Value, path: String, errors: &mut Errors) -> Option<Self> {
        match value {
            Value::Object(map) => Some(Self { path, map }),
            other => {
                let field = if path.is_empty() { ROOT_FIELD.to_owned() } else { path };
                errors.push(field, format!("must be an object, got {}", type_name(other)));
                None
            }
        }
    }

    fn path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// Unknown keys are errors.
    fn only(&self, allowed: &[&str], errors: &mut Errors) {
        let shown: Vec<&str> = allowed.iter().copied().filter(|k| *k != "type").collect();
        let expected = if shown.is_empty() {
            "this rule takes no fields".to_owned()
        } else {
            format!("expected {}", shown.join(", "))
        };
        for key in self.map.keys() {
            if !allowed.contains(&key.as_str()) {
                errors.push(self.path(key), format!("unknown field; {expected}"));
            }
        }
    }

    fn required<T: DeserializeOwned>(&self, key: &str, errors: &mut Errors) -> Option<T> {
        match self.map.get(key) {
            None => {
                errors.push(self.path(key), "is required");
                None
            }
            Some(v) => value(v, self.path(key), errors),
        }
    }

    /// `Some(None)` when absent or null; `None` when present and invalid.
    fn optional<T: DeserializeOwned>(&self, key: &str, errors: &mut Errors) -> Option<Option<T>> {
        match self.map.get(key) {
            None | Some(Value::Null) => Some(None),
            Some(v) => value(v, self.path(key), errors).map(Some),
        }
    }

    /// A required array whose items are read by `item` with their own paths (`tiers[1]`).
    fn list<T>(
        &self,
        key: &str,
        errors: &mut Errors,
        item: impl Fn(&Value, String, &mut Errors) -> Option<T>,
    ) -> Option<Vec<T>> {
        let path = self.path(key);
        match self.map.get(key) {
            None => {
                errors.push(path, "is required");
                None
            }
            Some(Value::Array(items)) => {
                let read: Vec<Option<T>> = items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| item(v, format!("{path}[{i}]"), errors))
                    .collect();
                read.into_iter().collect()
            }
            Some(other) => {
                errors.push(path, format!("must be an array, got {}", type_name(other)));
                None
            }
        }
    }
}

fn value<T: DeserializeOwned>(v: &Value, path: String, errors: &mut Errors) -> Option<T> {
    match serde_json::from_value(v.clone()) {
        Ok(t) => Some(t),
        Err(e) => {
            errors.push(path, e.to_string());
            None
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn parse_tier(v: &Value, path: String, errors: &mut Errors) -> Option<Tier> {
    let f = Fields::of(v, path, errors)?;
    let up_to_percent = f.required("up_to_percent", errors);
    let refund_percent = f.required("refund_percent", errors);
    f.only(&["up_to_percent", "refund_percent"], errors);
    Some(Tier {
        up_to_percent: up_to_percent?,
        refund_percent: refund_percent?,
    })
}

fn parse_rule(v: &Value, path: String, errors: &mut Errors) -> Option<Rule> {
    let f = Fields::of(v, path, errors)?;
    let kind = match f.map.get("type") {
        None => {
            errors.push(f.path("type"), format!("is required: one of {}", RULE_TYPES.join(", ")));
            return None;
        }
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            errors.push(f.path("type"), format!("must be a string, got {}", type_name(other)));
            return None;
        }
    };
    let only = |fields: &[&str], errors: &mut Errors| {
        let mut allowed = vec!["type"];
        allowed.extend_from_slice(fields);
        f.only(&allowed, errors);
    };
    match kind {
        "cooling_off" => {
            let days = f.required("days", errors);
            only(&["days"], errors);
            Some(Rule::CoolingOff { days: days? })
        }
        "full_for_reasons" => {
            let reasons = f.list("reasons", errors, value);
            only(&["reasons"], errors);
            Some(Rule::FullForReasons { reasons: reasons? })
        }
        "deduct_non_refundable" => {
            let kinds = f.list("kinds", errors, value);
            only(&["kinds"], errors);
            Some(Rule::DeductNonRefundable { kinds: kinds? })
        }
        "pro_rata_sessions" => {
            only(&[], errors);
            Some(Rule::ProRataSessions {})
        }
        "pro_rata_time" => {
            only(&[], errors);
            Some(Rule::ProRataTime {})
        }
        "tiers_by_consumed" => {
            let basis = f.required("basis", errors);
            let tiers = f.list("tiers", errors, parse_tier);
            only(&["basis", "tiers"], errors);
            Some(Rule::TiersByConsumed {
                basis: basis?,
                tiers: tiers?,
            })
        }
        "cap" => {
            let max_minor = f.optional("max_minor", errors);
            let max_percent_of_paid = f.optional("max_percent_of_paid", errors);
            only(&["max_minor", "max_percent_of_paid"], errors);
            Some(Rule::Cap {
                max_minor: max_minor?,
                max_percent_of_paid: max_percent_of_paid?,
            })
        }
        unknown => {
            errors.push(
                f.path("type"),
                format!(
                    "unknown rule type `{unknown}`; expected one of {}",
                    RULE_TYPES.join(", ")
                ),
            );
            None
        }
    }
}

fn check_rule(rule: &Rule, path: &str, errors: &mut Errors) {
    match rule {
        Rule::CoolingOff { days } => {
            if !(1..=365).contains(days) {
                errors.push(join(path, "days"), format!("must be 1 to 365, got {days}"));
            }
        }
        Rule::FullForReasons { reasons } => {
            if reasons.is_empty() {
                errors.push(join(path, "reasons"), "must list at least one reason");
            }
        }
        Rule::DeductNonRefundable { kinds } => {
            if kinds.is_empty() {
                errors.push(join(path, "kinds"), "must list at least one kind");
            }
        }
        Rule::ProRataSessions {} | Rule::ProRataTime {} => {}
        Rule::TiersByConsumed { tiers, .. } => {
            if tiers.is_empty() {
                errors.push(join(path, "tiers"), "must have at least one tier");
            }
            let mut previous: Option<&Tier> = None;
            for (j, tier) in tiers.iter().enumerate() {
                let at = format!("{}[{j}]", join(path, "tiers"));
                let up_to = tier.up_to_percent;
                if !(1..=100).contains(&up_to) {
                    errors.push(join(&at, "up_to_percent"), format!("must be 1 to 100, got {up_to}"));
                } else if let Some(p) = previous
                    && up_to <= p.up_to_percent
                {
                    errors.push(
                        join(&at, "up_to_percent"),
                        format!(
                            "must be greater than the previous tier's {}, got {up_to}",
                            p.up_to_percent
                        ),
                    );
                }
                let refund = tier.refund_percent;
                if refund > 100 {
                    errors.push(
                        join(&at, "refund_percent"),
                        format!("must be at most 100, got {refund}"),
                    );
                } else if let Some(p) = previous
                    && refund > p.refund_percent
                {
                    errors.push(
                        join(&at, "refund_percent"),
                        format!(
                            "must not exceed the previous tier's {}, got {refund}: the refund may not grow as more \
                             is consumed",
                            p.refund_percent
                        ),
                    );
                }
                previous = Some(tier);
            }
        }
        Rule::Cap {
            max_minor,
            max_percent_of_paid,
        } => {
            if max_minor.is_none() && max_percent_of_paid.is_none() {
                errors.push(path, "set max_minor, max_percent_of_paid or both");
            }
            if let Some(m) = max_minor
                && *m < 0
            {
                errors.push(join(path, "max_minor"), format!("must be at least 0, got {m}"));
            }
            if let Some(p) = max_percent_of_paid
                && *p > 100
            {
                errors.push(
                    join(path, "max_percent_of_paid"),
                    format!("must be at most 100, got {p}"),
                );
            }
        }
    }
}

fn check_count(count: usize, errors: &mut Errors) {
    if count == 0 {
        errors.push("rules", "must have at least one rule");
    } else if count > MAX_RULES {
        errors.push("rules", format!("must have at most {MAX_RULES} rules, got {count}"));
    }
}

impl Policy {
    /// Reads and checks a policy from untrusted JSON, reporting every problem with its field path.
    ///
    /// Unknown rule types and unknown fields are errors; the parameters must pass
    /// [`Policy::validate`].
    pub fn parse(json: &Value) -> Result<Policy, Vec<FieldError>> {
        let mut errors = Errors::default();
        let Some(root) = Fields::of(json, String::new(), &mut errors) else {
            return Err(errors.0);
        };
        root.only(&["rules"], &mut errors);
        let Some(rules) = root.list("rules", &mut errors, |v, path, errors| {
            let rule = parse_rule(v, path.clone(), errors);
            if let Some(r) = &rule {
                check_rule(r, &path, errors);
            }
            rule
        }) else {
            return Err(errors.0);
        };
        check_count(rules.len(), &mut errors);
        errors.finish()?;
        Ok(Policy { rules })
    }

    /// Checks the parameters of a policy built in code or deserialized without [`Policy::parse`]:
    /// 1 to 50 rules; `days` 1..=365; non-empty `reasons` and `kinds`; tiers with strictly
    /// increasing `up_to_percent` in 1..=100 and non-increasing `refund_percent` ≤ 100 (this is
    /// what keeps the amount from rising as consumption grows); a cap with at least one limit,
    /// amounts ≥ 0 and percents ≤ 100.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        check_count(self.rules.len(), &mut errors);
        for (i, rule) in self.rules.iter().enumerate() {
            check_rule(rule, &format!("rules[{i}]"), &mut errors);
        }
        errors.finish()
    }
}

impl Facts {
    /// Amounts ≥ 0, a currency code of three capital letters, a course period that ends after
    /// enrolment. More attended than total sessions is allowed (counted as the total).
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        let non_negative = [
            ("paid_minor", self.paid_minor),
            ("discount_minor", self.discount_minor),
            ("already_refunded_minor", self.already_refunded_minor),
        ];
        for (field, amount) in non_negative {
            if amount < 0 {
                errors.push(field, format!("must be at least 0, got {amount}"));
            }
        }
        if !(self.currency.len() == 3 && self.currency.chars().all(|c| c.is_ascii_uppercase())) {
            errors.push("currency", "must be an ISO 4217 code such as CNY");
        }
        if let Some(end) = self.service_ends_at
            && end <= self.enrolled_at
        {
            errors.push("service_ends_at", "must be after enrolled_at");
        }
        for (j, part) in self.non_refundable.iter().enumerate() {
            if part.amount_minor < 0 {
                errors.push(
                    format!("non_refundable[{j}].amount_minor"),
                    format!("must be at least 0, got {}", part.amount_minor),
                );
            }
        }
        errors.finish()
    }
}
