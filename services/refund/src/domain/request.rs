//! Refund requests: what a valid filing is, how much one may ask for or be approved for, and
//! which requests are special cases for a supervisor.

use platform::ApiError;
use platform::error::Validator;

use super::enrolment::is_currency_code;
use super::policy::{Reason, format_minor};

/// The longest comment a customer may write.
pub const MAX_COMMENT_CHARS: usize = 4000;
/// The longest decision note.
pub const MAX_NOTE_CHARS: usize = 2000;

/// A filing as received.
#[derive(Debug, Clone)]
pub struct NewRequest<'a> {
    pub reason: &'a str,
    pub comment: &'a str,
    pub amount_minor: Option<i64>,
    pub currency: Option<&'a str>,
}

/// A checked filing (its amount is checked against the quote later).
#[derive(Debug, Clone, PartialEq)]
pub struct ValidRequest {
    pub reason: Reason,
    pub comment: String,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
}

/// `reason` as a [`Reason`], or a field error listing the reasons.
pub fn reason(v: &mut Validator, reason: &str) -> Option<Reason> {
    let parsed = Reason::parse(reason);
    let names: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
    v.one_of(reason, &names, "reason");
    parsed
}

pub fn validate(r: &NewRequest<'_>) -> Result<ValidRequest, ApiError> {
    let mut v = Validator::new();
    let parsed = reason(&mut v, r.reason);
    let comment = r.comment.trim();
    v.check(
        comment.chars().count() <= MAX_COMMENT_CHARS,
        "comment",
        format!("must be at most {MAX_COMMENT_CHARS} characters"),
    );
    v.check(
        r.amount_minor.is_none_or(|a| a > 0),
        "amount_minor",
        "must be at least 1 (minor units)",
    );
    v.check(
        r.currency.is_none_or(is_currency_code),
        "currency",
        "must be an ISO 4217 code such as CNY",
    );
    v.finish()?;
    Ok(ValidRequest {
        reason: parsed.ok_or_else(|| ApiError::internal(anyhow::anyhow!("validated reason missing")))?,
        comment: comment.to_owned(),
        amount_minor: r.amount_minor,
        currency: r.currency.map(str::to_owned),
    })
}

/// A decision note: optional (`required` for a rejection), at most [`MAX_NOTE_CHARS`].
pub fn note(note: Option<&str>, required: bool) -> Result<Option<String>, ApiError> {
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    let mut v = Validator::new();
    v.check(!required || note.is_some(), "note", "must not be blank: say why");
    v.check(
        note.is_none_or(|n| n.chars().count() <= MAX_NOTE_CHARS),
        "note",
        format!("must be at most {MAX_NOTE_CHARS} characters"),
    );
    v.finish()?;
    Ok(note.map(str::to_owned))
}

/// The amount of a new request: the one asked for, else the policy's quote.
///
/// A customer may ask for at most the quote; staff filing on a customer's behalf for at most
/// what is left of the payment (`remaining` = paid − refunded), anything above the quote being
/// a special case. A request for nothing is refused.
pub fn requested_amount(
    asked: Option<i64>,
    quote_minor: i64,
    remaining: i64,
    by_staff: bool,
    currency: &str,
) -> Result<i64, ApiError> {
    let money = |m: i64| format!("{} {currency}", format_minor(m, currency));
    if remaining <= 0 {
        return Err(ApiError::field(
            "amount_minor",
            "nothing is left to refund: the payment is refunded in full",
        ));
    }
    let ceiling = if by_staff {
        remaining
    } else {
        quote_minor.min(remaining)
    };
    let amount = asked.unwrap_or(quote_minor.min(remaining));
    if amount <= 0 {
        return Err(ApiError::field(
            "amount_minor",
            if by_staff {
                "the policy's quote is 0: name the amount to ask for (a special case for a supervisor)".to_owned()
            } else {
                "the policy's quote is 0: nothing to refund; ask the support desk about an exception".to_owned()
            },
        ));
    }
    if amount > ceiling {
        return Err(ApiError::field(
            "amount_minor",
            if by_staff {
                format!("must be at most the {} left of the payment", money(remaining))
            } else {
                format!("must be at most the policy's quote of {}", money(ceiling))
            },
        ));
    }
    Ok(amount)
}

/// The amount of an approval: the one given, else the amount asked for; at most what is left
/// of the payment.
pub fn approved_amount(given: Option<i64>, requested: i64, remaining: i64, currency: &str) -> Result<i64, ApiError> {
    let amount = given.unwrap_or(requested);
    let mut v = Validator::new();
    v.check(amount > 0, "amount_minor", "must be at least 1 (minor units)");
    v.check(
        amount <= remaining,
        "amount_minor",
        format!(
            "must be at most the {} {currency} left of the payment",
            format_minor(remaining.max(0), currency)
        ),
    );
    v.finish()?;
    Ok(amount)
}

/// A special case, decided by a supervisor: more than the policy's quote, or the reason
/// `other` outside the cooling-off period (inside it no reason is asked).
pub fn is_special(amount_minor: i64, quote_minor: i64, reason: Reason, in_cooling_off: bool) -> bool {
    amount_minor > quote_minor || (reason == Reason::Other && !in_cooling_off)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_message(e: ApiError) -> String {
        e.errors
            .into_iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect()
    }

    #[test]
    fn a_filing_is_checked_field_by_field() {
        let ok = validate(&NewRequest {
            reason: "schedule",
            comment: "  时间冲突 ",
            amount_minor: None,
            currency: Some("CNY"),
        })
        .expect("valid");
        assert_eq!((ok.reason, ok.comment.as_str()), (Reason::Schedule, "时间冲突"));
        let bad = validate(&NewRequest {
            reason: "bored",
            comment: "",
            amount_minor: Some(0),
            currency: Some("cny"),
        })
        .expect_err("invalid");
        let fields: Vec<&str> = bad.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["reason", "amount_minor", "currency"]);
    }

    #[test]
    fn customers_ask_up_to_the_quote_and_staff_up_to_what_is_left() {
        assert_eq!(requested_amount(None, 500, 1000, false, "CNY").expect("quote"), 500);
        assert_eq!(requested_amount(Some(200), 500, 1000, false, "CNY").expect("part"), 200);
        let over = requested_amount(Some(501), 500, 1000, false, "CNY").expect_err("above the quote");
        assert_eq!(
            field_message(over),
            "amount_minor: must be at most the policy's quote of 5.00 CNY"
        );
        assert_eq!(requested_amount(Some(900), 500, 1000, true, "CNY").expect("staff"), 900);
        assert!(requested_amount(Some(1001), 500, 1000, true, "CNY").is_err());
        assert!(requested_amount(None, 0, 1000, false, "CNY").is_err(), "nothing quoted");
        assert!(requested_amount(Some(10), 500, 0, true, "CNY").is_err(), "nothing left");
    }

    #[test]
    fn approvals_stay_within_what_is_left_and_specials_are_named() {
        assert_eq!(approved_amount(None, 300, 1000, "CNY").expect("as asked"), 300);
        assert!(approved_amount(Some(1001), 300, 1000, "CNY").is_err());
        assert!(approved_amount(Some(0), 300, 1000, "CNY").is_err());
        assert!(is_special(501, 500, Reason::Schedule, false));
        assert!(!is_special(500, 500, Reason::Schedule, false));
        assert!(is_special(100, 500, Reason::Other, false));
        assert!(!is_special(100, 500, Reason::Other, true));
        assert_eq!(note(Some("  "), true).expect_err("blank").errors[0].field, "note");
        assert_eq!(note(Some(" ok "), false).expect("note"), Some("ok".to_owned()));
    }
}
