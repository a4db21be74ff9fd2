//! Enrolments as the company's systems report them: what was bought, how it was paid and how
//! much of it was attended. Refund reads them; it never decides them.

use chrono::{DateTime, Utc};
use platform::ApiError;
use platform::error::Validator;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::policy::Part;

/// How the customer paid (where an online refund goes back to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum PaymentChannel {
    Alipay,
    WechatPay,
    BankTransfer,
    Cash,
    Card,
}

impl PaymentChannel {
    pub const ALL: [PaymentChannel; 5] = [
        Self::Alipay,
        Self::WechatPay,
        Self::BankTransfer,
        Self::Cash,
        Self::Card,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alipay => "alipay",
            Self::WechatPay => "wechat_pay",
            Self::BankTransfer => "bank_transfer",
            Self::Cash => "cash",
            Self::Card => "card",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Whether `c` looks like an ISO 4217 code (three capital letters).
pub fn is_currency_code(c: &str) -> bool {
    c.len() == 3 && c.chars().all(|ch| ch.is_ascii_uppercase())
}

/// What an enrolment may hold (from the settings).
#[derive(Debug, Clone, PartialEq)]
pub struct EnrolmentLimits {
    /// ISO 4217 codes accepted.
    pub currencies: Vec<String>,
}

/// The most sessions a course may have.
pub const MAX_SESSIONS: i32 = 10_000;
/// The most non-refundable parts one enrolment may list.
pub const MAX_PARTS: usize = 20;

/// An enrolment and its payment, as the company's systems send it (the whole record).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentRecord {
    /// The customer who enrolled (and may ask for the refund).
    pub customer_id: Uuid,
    #[schema(example = "python-101")]
    pub course_id: String,
    #[serde(default)]
    #[schema(example = "python-101-2026-spring-3")]
    pub class_id: Option<String>,
    /// What the customer paid after discounts, in integer minor units (fen for CNY).
    #[schema(example = 800000)]
    pub paid_minor: i64,
    /// ISO 4217, one of the service's `currencies`.
    #[schema(example = "CNY")]
    pub currency: String,
    /// `alipay`, `wechat_pay`, `bank_transfer`, `cash` or `card`.
    #[schema(example = "wechat_pay")]
    pub channel: String,
    /// The payment provider's reference of the payment.
    #[schema(example = "4200001234202611281234567890")]
    pub payment_reference: String,
    pub enrolled_at: DateTime<Utc>,
    pub total_sessions: i32,
    /// Sessions attended so far (default 0); `PUT …/attendance` updates it alone.
    #[serde(default)]
    pub attended_sessions: i32,
    /// The end of the course period (for time-based policies).
    #[serde(default)]
    pub service_ends_at: Option<DateTime<Utc>>,
    /// Parts of the price a policy may keep (materials shipped, the platform fee).
    #[serde(default)]
    pub non_refundable: Vec<Part>,
    /// The discount granted, informational: `paid_minor` is after it.
    #[serde(default)]
    pub discount_minor: i64,
}

/// A checked enrolment record.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidEnrolment {
    pub customer_id: Uuid,
    pub course_id: String,
    pub class_id: Option<String>,
    pub paid_minor: i64,
    pub currency: String,
    pub channel: PaymentChannel,
    pub payment_reference: String,
    pub enrolled_at: DateTime<Utc>,
    pub total_sessions: i32,
    pub attended_sessions: i32,
    pub service_ends_at: Option<DateTime<Utc>>,
    pub non_refundable: Vec<Part>,
    pub discount_minor: i64,
}

/// Checks an attendance count.
pub fn check_attended(v: &mut Validator, attended: i32, field: &str) {
    v.check(
        (0..=MAX_SESSIONS).contains(&attended),
        field,
        format!("must be 0 to {MAX_SESSIONS}"),
    );
}

impl EnrolmentRecord {
    /// Every field checked at once; strings trimmed.
    pub fn validate(self, limits: &EnrolmentLimits) -> Result<ValidEnrolment, ApiError> {
        let mut v = Validator::new();
        v.text(&self.course_id, "course_id", 100);
        if let Some(class_id) = &self.class_id {
            v.text(class_id, "class_id", 100);
        }
        v.check(self.paid_minor >= 0, "paid_minor", "must be at least 0");
        v.check(
            limits.currencies.contains(&self.currency),
            "currency",
            format!("must be one of {}", limits.currencies.join(", ")),
        );
        let channel = PaymentChannel::parse(&self.channel);
        let names: Vec<&str> = PaymentChannel::ALL.iter().map(|c| c.as_str()).collect();
        v.check(
            channel.is_some(),
            "channel",
            format!("must be one of {}", names.join(", ")),
        );
        v.text(&self.payment_reference, "payment_reference", 200);
        v.check(
            self.enrolled_at >= DateTime::UNIX_EPOCH,
            "enrolled_at",
            "must be 1970-01-01 or later (policy version 0 takes effect then)",
        );
        v.check(
            (0..=MAX_SESSIONS).contains(&self.total_sessions),
            "total_sessions",
            format!("must be 0 to {MAX_SESSIONS}"),
        );
        check_attended(&mut v, self.attended_sessions, "attended_sessions");
        v.check(
            self.service_ends_at.is_none_or(|end| end > self.enrolled_at),
            "service_ends_at",
            "must be after enrolled_at",
        );
        v.check(
            self.non_refundable.len() <= MAX_PARTS,
            "non_refundable",
            format!("must list at most {MAX_PARTS} parts"),
        );
        for (i, part) in self.non_refundable.iter().enumerate() {
            v.check(
                part.amount_minor >= 0,
                &format!("non_refundable[{i}].amount_minor"),
                "must be at least 0",
            );
        }
        let parts: i128 = self
            .non_refundable
            .iter()
            .map(|p| i128::from(p.amount_minor.max(0)))
            .sum();
        v.check(
            parts <= i128::from(self.paid_minor.max(0)),
            "non_refundable",
            "the non-refundable parts must not add up to more than paid_minor",
        );
        v.check(self.discount_minor >= 0, "discount_minor", "must be at least 0");
        v.finish()?;
        Ok(ValidEnrolment {
            customer_id: self.customer_id,
            course_id: self.course_id.trim().to_owned(),
            class_id: self.class_id.map(|c| c.trim().to_owned()),
            paid_minor: self.paid_minor,
            currency: self.currency,
            channel: channel.ok_or_else(|| ApiError::internal(anyhow::anyhow!("validated channel missing")))?,
            payment_reference: self.payment_reference.trim().to_owned(),
            enrolled_at: self.enrolled_at,
            total_sessions: self.total_sessions,
            attended_sessions: self.attended_sessions,
            service_ends_at: self.service_ends_at,
            non_refundable: self.non_refundable,
            discount_minor: self.discount_minor,
        })
    }
}

/// What about a stored enrolment may not change once refunds are filed against it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Locked<'a> {
    pub customer_id: Uuid,
    pub currency: &'a str,
    /// Approved (or paid) so far.
    pub refunded_minor: i64,
    /// Requests that are open or moved money (not rejected or cancelled).
    pub live_requests: i64,
}

/// Why a replacement record is refused: the code and the detail (a 409).
pub fn replacement_conflict(stored: &Locked<'_>, new: &ValidEnrolment) -> Option<(&'static str, String)> {
    if stored.live_requests == 0 {
        return None;
    }
    if new.currency != stored.currency {
        return Some((
            "currency_locked",
            format!(
                "the enrolment has refund requests in {}: its currency cannot change",
                stored.currency
            ),
        ));
    }
    if new.customer_id != stored.customer_id {
        return Some((
            "customer_locked",
            "the enrolment has refund requests: its customer cannot change".to_owned(),
        ));
    }
    if new.paid_minor < stored.refunded_minor {
        return Some((
            "paid_below_refunded",
            format!(
                "paid_minor {} is less than the {} already refunded",
                new.paid_minor, stored.refunded_minor
            ),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::policy::PartKind;

    fn record() -> EnrolmentRecord {
        EnrolmentRecord {
            customer_id: Uuid::new_v4(),
            course_id: " python-101 ".into(),
            class_id: None,
            paid_minor: 800_000,
            currency: "CNY".into(),
            channel: "wechat_pay".into(),
            payment_reference: "wx-1".into(),
            enrolled_at: DateTime::UNIX_EPOCH,
            total_sessions: 12,
            attended_sessions: 0,
            service_ends_at: None,
            non_refundable: vec![Part {
                kind: PartKind::Materials,
                amount_minor: 20_000,
            }],
            discount_minor: 0,
        }
    }

    fn limits() -> EnrolmentLimits {
        EnrolmentLimits {
            currencies: vec!["CNY".into()],
        }
    }

    #[test]
    fn a_record_is_checked_field_by_field() {
        let ok = record().validate(&limits()).expect("valid");
        assert_eq!(ok.course_id, "python-101");
        assert_eq!(ok.channel, PaymentChannel::WechatPay);
        let before_1970 = EnrolmentRecord {
            enrolled_at: DateTime::UNIX_EPOCH - chrono::Duration::seconds(1),
            ..record()
        };
        assert_eq!(
            before_1970.validate(&limits()).expect_err("too early").errors[0].field,
            "enrolled_at"
        );
        let bad = EnrolmentRecord {
            paid_minor: -1,
            currency: "USD".into(),
            channel: "paypal".into(),
            total_sessions: -3,
            service_ends_at: Some(DateTime::UNIX_EPOCH),
            ..record()
        };
        let fields: Vec<String> = bad
            .validate(&limits())
            .expect_err("invalid")
            .errors
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "paid_minor",
                "currency",
                "channel",
                "total_sessions",
                "service_ends_at",
                "non_refundable"
            ]
        );
    }

    #[test]
    fn currency_customer_and_paid_are_locked_once_refunds_exist() {
        let new = record().validate(&limits()).expect("valid");
        let mut stored = Locked {
            customer_id: new.customer_id,
            currency: "USD",
            refunded_minor: 0,
            live_requests: 0,
        };
        assert_eq!(replacement_conflict(&stored, &new), None);
        stored.live_requests = 1;
        assert_eq!(
            replacement_conflict(&stored, &new).map(|c| c.0),
            Some("currency_locked")
        );
        stored.currency = "CNY";
        stored.refunded_minor = 900_000;
        assert_eq!(
            replacement_conflict(&stored, &new).map(|c| c.0),
            Some("paid_below_refunded")
        );
        stored.customer_id = Uuid::new_v4();
        assert_eq!(
            replacement_conflict(&stored, &new).map(|c| c.0),
            Some("customer_locked")
        );
    }
}
