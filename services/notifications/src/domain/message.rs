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
}
