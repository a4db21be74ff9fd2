//! A refund request followed on the ticket it was filed from: what each of its steps says in
//! the ticket's internal notes, and which statuses end it (its ticket is then resolved). The
//! request is refund's (`contracts::refund`, one event per step); intake keeps only what it needs
//! to follow it (see `store::refunds`).

use contracts::Event;
use contracts::refund::{
    RefundApprovedV1, RefundCancelledV1, RefundQuotedV1, RefundRejectedV1, RefundRequestV1, RefundSubmittedV1,
};
use uuid::Uuid;

/// The prefix of every refund request event type (`refund.request.approved`).
pub const EVENT_PREFIX: &str = "refund.request.";

/// A step of a refund request, from its event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Submitted,
    Quoted,
    Approved,
    Rejected,
    Cancelled,
    /// A step this version has no words of its own for (later ones: payouts, `paid`,
    /// `closed`): the note names the request's status after it.
    Other,
}

impl Step {
    /// The step an event type reports; `None` for an event that is not about a request.
    pub fn of(event_type: &str) -> Option<Self> {
        if !event_type.starts_with(EVENT_PREFIX) {
            return None;
        }
        Some(match event_type {
            RefundSubmittedV1::TYPE => Self::Submitted,
            RefundQuotedV1::TYPE => Self::Quoted,
            RefundApprovedV1::TYPE => Self::Approved,
            RefundRejectedV1::TYPE => Self::Rejected,
            RefundCancelledV1::TYPE => Self::Cancelled,
            _ => Self::Other,
        })
    }
}

/// Statuses a request never leaves: its ticket has nothing more to wait for. An approval is not
/// one: the payout follows (`payout_pending` → `paid`, then `closed`).
pub const ENDED: [&str; 4] = ["rejected", "cancelled", "paid", "closed"];

/// Whether a request in `status` has ended.
pub fn ends(status: &str) -> bool {
    ENDED.contains(&status)
}

/// Digits after the decimal point of a currency's minor unit (ISO 4217; 2 when not listed), as
/// refund prints money.
fn minor_digits(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "UYI" | "VND"
        | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// `amount` minor units of `currency` as people read them: `6,000.00 CNY`, `1,500 JPY`.
pub fn money(amount: i64, currency: &str) -> String {
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
        format!("{sign}{grouped} {currency}")
    } else {
        format!(
            "{sign}{grouped}.{:0width$} {currency}",
            abs % unit,
            width = digits as usize
        )
    }
}

/// The reference customers see for an id (its first 8 hex digits, upper case), as notifications
/// print it in their messages: `0190F2A1`.
pub fn short_ref(id: Uuid) -> String {
    id.simple().to_string()[..8].to_uppercase()
}

fn reason_zh(reason: &str) -> &str {
    match reason {
        "course_quality" => "课程质量",
        "teacher" => "授课老师",
        "schedule" => "上课时间",
        "relocation" => "搬迁",
        "duplicate_charge" => "重复扣费",
        "other" => "其他",
        other => other,
    }
}

fn status_zh(status: &str) -> &str {
    match status {
        "requested" => "已提交",
        "under_review" => "审核中",
        "approved" => "已批准",
        "rejected" => "已拒绝",
        "cancelled" => "已撤销",
        "payout_pending" => "退款处理中",
        "paid" => "已退款",
        "payout_failed" => "退款失败",
        "closed" => "已关闭",
        other => other,
    }
}

/// The internal note for `step` of request `r`, in the ticket's language (`zh-CN`, else
/// English): what happened, with the amounts, the policy version and the decider's note.
pub fn note(step: Step, r: &RefundRequestV1, language: &str) -> String {
    let id = short_ref(r.request_id);
    let amount = money(r.amount_minor, &r.currency);
    let by_customer = r.actor_id == Some(r.customer_id.as_uuid());
    let text = if language == "zh-CN" {
        let cooling = if r.in_cooling_off { "，在冷静期内" } else { "" };
        match step {
            Step::Submitted => format!(
                "退款申请 {id} 已{}提交（课程 {}，原因：{}）：申请金额 {amount}，适用退费政策 v{}{cooling}。",
                if by_customer { "由客户" } else { "代客户" },
                r.course_id,
                reason_zh(&r.reason),
                r.policy_version
            ),
            Step::Quoted => format!(
                "退款申请 {id} 按退费政策 v{} 报价 {amount}{cooling}。",
                r.policy_version
            ),
            Step::Approved => format!(
                "退款申请 {id} 已{}批准，退款金额 {amount}。",
                if r.actor_id.is_none() {
                    "自动"
                } else {
                    "由工作人员"
                }
            ),
            Step::Rejected => format!("退款申请 {id} 已拒绝（申请金额 {amount}）。"),
            Step::Cancelled => format!("退款申请 {id} 已撤销（申请金额 {amount}），不会退款。"),
            Step::Other => format!("退款申请 {id} 状态更新：{}（{amount}）。", status_zh(&r.status)),
        }
    } else {
        let cooling = if r.in_cooling_off {
            ", inside the cooling-off period"
        } else {
            ""
        };
        match step {
            Step::Submitted => format!(
                "Refund request {id} submitted {} (course {}, reason {}): {amount} asked for under refund policy v{}{cooling}.",
                if by_customer {
                    "by the customer"
                } else {
                    "on the customer's behalf"
                },
                r.course_id,
                r.reason,
                r.policy_version
            ),
            Step::Quoted => format!(
                "Refund request {id} quoted {amount} by refund policy v{}{cooling}.",
                r.policy_version
            ),
            Step::Approved => format!(
                "Refund request {id} approved {} for {amount}.",
                if r.actor_id.is_none() {
                    "automatically"
                } else {
                    "by staff"
                }
            ),
            Step::Rejected => format!("Refund request {id} rejected ({amount} asked for)."),
            Step::Cancelled => format!("Refund request {id} cancelled ({amount} asked for): nothing is refunded."),
            Step::Other => format!("Refund request {id} is now {} ({amount}).", r.status.replace('_', " ")),
        }
    };
    match r.note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) if language == "zh-CN" => format!("{text}\n备注：{n}"),
        Some(n) => format!("{text}\nNote: {n}"),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::CustomerId;

    fn request(status: &str, amount_minor: i64) -> RefundRequestV1 {
        RefundRequestV1 {
            request_id: "0190f2a1-7c3b-7def-8123-456789abcdef".parse().expect("uuid"),
            enrolment_id: Uuid::nil(),
            customer_id: CustomerId(Uuid::from_u128(7)),
            ticket_id: None,
            status: status.into(),
            reason: "schedule".into(),
            course_id: "math-101".into(),
            amount_minor,
            currency: "CNY".into(),
            policy_version: 3,
            in_cooling_off: false,
            actor_id: None,
            note: None,
            at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn money_is_grouped_and_has_the_currencys_minor_digits() {
        assert_eq!(money(59_900, "CNY"), "599.00 CNY");
        assert_eq!(money(600_000, "CNY"), "6,000.00 CNY");
        assert_eq!(money(123_456_789, "USD"), "1,234,567.89 USD");
        assert_eq!(money(5, "EUR"), "0.05 EUR");
        assert_eq!(money(1_500, "JPY"), "1,500 JPY");
        assert_eq!(money(1_234_567, "KWD"), "1,234.567 KWD");
        assert_eq!(money(-100, "CNY"), "-1.00 CNY");
    }

    #[test]
    fn steps_come_from_the_event_type_and_later_ones_are_named_by_status() {
        assert_eq!(Step::of("refund.request.submitted"), Some(Step::Submitted));
        assert_eq!(Step::of("refund.request.approved"), Some(Step::Approved));
        assert_eq!(Step::of("refund.request.paid"), Some(Step::Other));
        assert_eq!(Step::of("refund.class_transferred"), None);
        assert!(ends("rejected") && ends("cancelled") && ends("paid") && ends("closed"));
        assert!(!ends("approved") && !ends("requested") && !ends("payout_failed"));
    }

    #[test]
    fn notes_say_what_happened_in_the_tickets_language() {
        let mut r = request("requested", 59_900);
        r.in_cooling_off = true;
        r.actor_id = Some(r.customer_id.as_uuid());
        assert_eq!(
            note(Step::Submitted, &r, "en"),
            "Refund request 0190F2A1 submitted by the customer (course math-101, reason schedule): \
             599.00 CNY asked for under refund policy v3, inside the cooling-off period."
        );
        assert_eq!(
            note(Step::Submitted, &r, "zh-CN"),
            "退款申请 0190F2A1 已由客户提交（课程 math-101，原因：上课时间）：申请金额 599.00 CNY，适用退费政策 v3，在冷静期内。"
        );
        let approved = request("approved", 600_000);
        assert_eq!(
            note(Step::Approved, &approved, "en"),
            "Refund request 0190F2A1 approved automatically for 6,000.00 CNY."
        );
        let mut rejected = request("rejected", 600_000);
        rejected.actor_id = Some(Uuid::from_u128(9));
        rejected.note = Some("more than half of the sessions attended".into());
        assert_eq!(
            note(Step::Rejected, &rejected, "en"),
            "Refund request 0190F2A1 rejected (6,000.00 CNY asked for).\nNote: more than half of the sessions attended"
        );
        assert!(note(Step::Rejected, &rejected, "zh-CN").ends_with("备注：more than half of the sessions attended"));
        assert_eq!(
            note(Step::Other, &request("payout_pending", 100), "en"),
            "Refund request 0190F2A1 is now payout pending (1.00 CNY)."
        );
    }
}
