//! Refund requests: what a valid one is and who may file or read it.

use contracts::CustomerId;
use platform::ApiError;
use platform::auth::Principal;
use platform::error::Validator;
use uuid::Uuid;

/// Why the customer asks for the money back (seed 003: course quality, teacher, schedule, other).
pub const REASONS: [&str; 4] = ["course_quality", "teacher", "schedule", "other"];

pub fn is_currency_code(c: &str) -> bool {
    c.len() == 3 && c.chars().all(|ch| ch.is_ascii_uppercase())
}

/// What a request may ask for (from the service's settings).
#[derive(Debug, Clone, PartialEq)]
pub struct RefundLimits {
    /// ISO 4217 codes accepted.
    pub currencies: Vec<String>,
    /// The largest amount one request may ask for, in minor units.
    pub max_amount_minor: i64,
}

/// A request as received.
#[derive(Debug, Clone)]
pub struct NewRefund<'a> {
    pub customer_id: Option<Uuid>,
    pub enrolment_id: Uuid,
    pub amount_minor: i64,
    pub currency: &'a str,
    pub reason: &'a str,
    pub detail: &'a str,
}

/// A checked request.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidRefund {
    pub customer_id: CustomerId,
    pub enrolment_id: Uuid,
    pub amount_minor: i64,
    pub currency: String,
    pub reason: String,
    pub detail: String,
}

pub fn validate(caller: &Principal, r: &NewRefund<'_>, settings: &RefundLimits) -> Result<ValidRefund, ApiError> {
    let mut v = Validator::new();
    v.check(
        r.amount_minor > 0 && r.amount_minor <= settings.max_amount_minor,
        "amount_minor",
        format!("must be 1 to {} minor units", settings.max_amount_minor),
    );
    v.check(
        settings.currencies.iter().any(|c| c == r.currency),
        "currency",
        format!("must be one of {}", settings.currencies.join(", ")),
    );
    v.check(
        REASONS.contains(&r.reason),
        "reason",
        format!("must be one of {}", REASONS.join(", ")),
    );
    v.check(
        r.detail.chars().count() <= 4000,
        "detail",
        "must be at most 4000 characters",
    );
    let customer_id = if caller.is_desk_or_service() {
        v.check(
            r.customer_id.is_some(),
            "customer_id",
            "required when staff or a service files a refund",
        );
        r.customer_id
    } else {
        v.check(
            r.customer_id.is_none_or(|id| id == caller.subject),
            "customer_id",
            "a customer files refunds for themselves only",
        );
        Some(caller.subject)
    };
    v.finish()?;
    let customer_id =
        customer_id.ok_or_else(|| ApiError::internal(anyhow::anyhow!("validated refund lacks a customer")))?;
    Ok(ValidRefund {
        customer_id: customer_id.into(),
        enrolment_id: r.enrolment_id,
        amount_minor: r.amount_minor,
        currency: r.currency.to_owned(),
        reason: r.reason.to_owned(),
        detail: r.detail.trim().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform::auth::Role;

    fn settings() -> RefundLimits {
        RefundLimits {
            currencies: vec!["CNY".into()],
            max_amount_minor: 100_000,
        }
    }

    fn caller(role: Role) -> Principal {
        Principal::new(Uuid::new_v4(), &[role])
    }

    fn req<'a>() -> NewRefund<'a> {
        NewRefund {
            customer_id: None,
            enrolment_id: Uuid::new_v4(),
            amount_minor: 59_900,
            currency: "CNY",
            reason: "schedule",
            detail: "上课时间和孩子的学校冲突",
        }
    }

    #[test]
    fn a_customer_files_for_themselves() {
        let c = caller(Role::Customer);
        assert_eq!(
            validate(&c, &req(), &settings()).expect("valid").customer_id,
            c.subject.into()
        );
    }

    #[test]
    fn amounts_currencies_and_reasons_are_checked() {
        let c = caller(Role::Customer);
        let r = NewRefund {
            amount_minor: 0,
            currency: "XYZ",
            reason: "bored",
            ..req()
        };
        assert_eq!(validate(&c, &r, &settings()).expect_err("invalid").errors.len(), 3);
        let too_much = NewRefund {
            amount_minor: 100_001,
            ..req()
        };
        assert!(validate(&c, &too_much, &settings()).is_err());
    }

    #[test]
    fn staff_name_the_customer() {
        let a = caller(Role::Agent);
        assert!(validate(&a, &req(), &settings()).is_err());
        let who = Uuid::new_v4();
        let r = NewRefund {
            customer_id: Some(who),
            ..req()
        };
        assert_eq!(validate(&a, &r, &settings()).expect("valid").customer_id, who.into());
        assert!(is_currency_code("CNY") && !is_currency_code("cny"));
    }
}
