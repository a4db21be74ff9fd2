//! The text of each notification, per locale.

use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    #[default]
    ZhCn,
    En,
}

impl Locale {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "zh-CN" | "zh" => Some(Self::ZhCn),
            "en" | "en-US" | "en-GB" => Some(Self::En),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ZhCn => "zh-CN",
            Self::En => "en",
        }
    }
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub kind: &'static str,
    pub title: String,
    pub body: String,
}

/// "We received your request": sent when a ticket starts waiting for an agent.
pub fn ticket_received(locale: Locale, ticket_id: Uuid) -> Message {
    let reference = ticket_id.simple().to_string()[..8].to_uppercase();
    let (title, body) = match locale {
        Locale::ZhCn => (
            "我们已收到您的问题".to_owned(),
            format!("您的工单 {reference} 已进入服务队列，客服人员将尽快为您解答。"),
        ),
        Locale::En => (
            "We received your request".to_owned(),
            format!("Your ticket {reference} is in the queue; an agent will answer you shortly."),
        ),
    };
    Message {
        kind: "ticket_received",
        title,
        body,
    }
}

fn metric_name(locale: Locale, metric: &str) -> &'static str {
    match (locale, metric) {
        (Locale::ZhCn, "first_response") => "首次响应",
        (Locale::ZhCn, "next_update") => "进度更新",
        (Locale::ZhCn, _) => "问题解决",
        (Locale::En, "first_response") => "first response",
        (Locale::En, "next_update") => "progress update",
        (Locale::En, _) => "resolution",
    }
}

/// "A ticket missed its service level": sent to the supervisor when a target is breached.
pub fn sla_breached(locale: Locale, ticket_id: Uuid, metric: &str, escalated_to: Option<&str>) -> Message {
    let reference = ticket_id.simple().to_string()[..8].to_uppercase();
    let what = metric_name(locale, metric);
    let (title, body) = match locale {
        Locale::ZhCn => (
            format!("工单 {reference} 超出{what}时限"),
            match escalated_to {
                Some(tier) => {
                    format!("工单 {reference} 未在规定时间内完成{what}，已升级至 {tier} 级客服并提高优先级，请关注。")
                }
                None => format!("工单 {reference} 未在规定时间内完成{what}，已提高优先级，请关注。"),
            },
        ),
        Locale::En => (
            format!("Ticket {reference} missed its {what} target"),
            match escalated_to {
                Some(tier) => format!(
                    "Ticket {reference} missed its {what} target; it was escalated to the {tier} tier with a higher priority."
                ),
                None => format!("Ticket {reference} missed its {what} target; its priority was raised."),
            },
        ),
    };
    Message {
        kind: "sla_breached",
        title,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_follows_the_locale_and_names_the_ticket() {
        let id = Uuid::parse_str("0190f2a1-7c3b-7def-8123-456789abcdef").expect("uuid");
        let zh = ticket_received(Locale::ZhCn, id);
        assert!(zh.body.contains("0190F2A1") && zh.title.contains("收到"));
        let en = ticket_received(Locale::En, id);
        assert!(en.body.contains("0190F2A1") && en.title.starts_with("We received"));
        assert_eq!(Locale::parse("fr"), None);
    }

    #[test]
    fn a_breach_names_the_target_and_the_escalation() {
        let id = Uuid::parse_str("0190f2a1-7c3b-7def-8123-456789abcdef").expect("uuid");
        let en = sla_breached(Locale::En, id, "first_response", Some("mid"));
        assert!(en.title.contains("first response") && en.body.contains("mid tier"));
        let zh = sla_breached(Locale::ZhCn, id, "resolution", None);
        assert!(zh.title.contains("问题解决") && !zh.body.contains("升级"));
    }
}
