//! Tickets: who may open one for whom, and what a valid one looks like.

use contracts::CustomerId;
use contracts::vocabulary::{Channel, Priority};
use platform::ApiError;
use platform::auth::{Principal, Role};
use platform::error::Validator;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::classify::FAULT_TYPES;

/// What is known about a technical fault.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultRecord {
    /// What happens, in the customer's words.
    #[schema(example = "The classroom keeps loading")]
    #[serde(default)]
    pub symptom: String,
    /// The device, e.g. `iPad 9`, `Windows laptop`.
    #[serde(default)]
    pub device: Option<String>,
    /// Operating system, browser or app version, network.
    #[serde(default)]
    pub environment: Option<String>,
    /// What the customer already tried.
    #[serde(default)]
    pub steps_tried: Vec<String>,
    /// `hardware`, `software` or `network`; inferred from the text when left out.
    #[serde(default)]
    pub fault_type: Option<String>,
}

impl FaultRecord {
    fn check(&self, v: &mut Validator) {
        v.check(
            self.symptom.chars().count() <= 2000,
            "fault.symptom",
            "at most 2000 characters",
        );
        for (field, value) in [("fault.device", &self.device), ("fault.environment", &self.environment)] {
            if let Some(value) = value {
                v.check(value.chars().count() <= 500, field, "at most 500 characters");
            }
        }
        v.check(self.steps_tried.len() <= 20, "fault.steps_tried", "at most 20 steps");
        for step in &self.steps_tried {
            v.check(
                step.chars().count() <= 500,
                "fault.steps_tried",
                "each step at most 500 characters",
            );
        }
        if let Some(t) = &self.fault_type {
            v.check(
                FAULT_TYPES.contains(&t.as_str()),
                "fault.fault_type",
                "must be hardware, software or network",
            );
        }
    }
}

/// How long a ticket's subject and body may be (from the settings).
#[derive(Debug, Clone, Copy)]
pub struct TicketLimits {
    pub max_subject_chars: usize,
    pub max_body_chars: usize,
}

/// How far back opening a ticket looks: repeated contacts, open duplicates, incidents.
#[derive(Debug, Clone, Copy)]
pub struct ContextWindows {
    pub repeat_hours: u32,
    pub duplicate_minutes: u32,
    pub incident_minutes: u32,
}

/// A request to open a ticket, as received.
#[derive(Debug, Clone)]
pub struct TicketRequest<'a> {
    pub channel: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub customer_id: Option<Uuid>,
    pub priority: Option<&'a str>,
    pub fault: Option<&'a FaultRecord>,
}

/// A checked request.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidTicket {
    pub customer_id: CustomerId,
    pub channel: Channel,
    pub subject: String,
    pub body: String,
    /// The priority the caller asked for: staff and services may set one; a customer's is
    /// left to classification.
    pub requested_priority: Option<Priority>,
    pub fault: Option<FaultRecord>,
}

/// Checks a request from `caller`: customers open tickets for themselves; staff and services
/// name the customer. Channels logged by staff (phone, walk-in) need a staff caller.
pub fn validate(caller: &Principal, t: &TicketRequest<'_>, limits: &TicketLimits) -> Result<ValidTicket, ApiError> {
    let mut v = Validator::new();
    let channel = Channel::parse(t.channel);
    v.check(
        channel.is_some(),
        "channel",
        "must be one of web, chat, email, phone, walk_in, api",
    );
    v.text(t.subject, "subject", limits.max_subject_chars);
    v.text(t.body, "body", limits.max_body_chars);
    let priority = match t.priority {
        None => Some(Priority::Normal),
        Some(p) => Priority::parse(p),
    };
    v.check(
        priority.is_some(),
        "priority",
        "must be one of low, normal, high, urgent",
    );
    if let Some(f) = t.fault {
        f.check(&mut v);
    }
    let is_customer = caller.has(Role::Customer) && !caller.is_desk_or_service();
    let customer_id = if is_customer {
        v.check(
            t.customer_id.is_none_or(|id| id == caller.subject),
            "customer_id",
            "a customer opens tickets for themselves only",
        );
        v.check(
            !matches!(channel, Some(Channel::Phone | Channel::WalkIn)),
            "channel",
            "phone and walk-in tickets are logged by an agent",
        );
        Some(caller.subject)
    } else {
        v.check(
            t.customer_id.is_some(),
            "customer_id",
            "required when an agent or a service opens a ticket",
        );
        t.customer_id
    };
    v.finish()?;
    match (channel, priority, customer_id) {
        (Some(channel), Some(priority), Some(customer_id)) => Ok(ValidTicket {
            customer_id: customer_id.into(),
            channel,
            subject: t.subject.trim().to_owned(),
            body: t.body.trim().to_owned(),
            requested_priority: if is_customer {
                None
            } else {
                t.priority.map(|_| priority)
            },
            fault: t.fault.cloned(),
        }),
        _ => Err(ApiError::internal(anyhow::anyhow!("validated ticket lacks a field"))),
    }
}

/// The ticket's priority: the higher of what staff asked for and what classification found.
pub fn priority(requested: Option<Priority>, classified: Priority) -> Priority {
    requested.map_or(classified, |r| r.max(classified))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> TicketLimits {
        TicketLimits {
            max_subject_chars: 20,
            max_body_chars: 100,
        }
    }

    fn caller(role: Role) -> Principal {
        Principal::new(Uuid::new_v4(), &[role])
    }

    fn req(channel: &str) -> TicketRequest<'_> {
        TicketRequest {
            channel,
            subject: "  退费进度  ",
            body: "我的退费申请什么时候到账？",
            customer_id: None,
            priority: None,
            fault: None,
        }
    }

    #[test]
    fn a_customer_opens_a_ticket_for_themselves() {
        let c = caller(Role::Customer);
        let t = validate(&c, &req("web"), &limits()).expect("valid");
        assert_eq!(t.customer_id, c.subject.into());
        assert_eq!(t.subject, "退费进度");
        assert_eq!(t.requested_priority, None);
    }

    #[test]
    fn a_customer_cannot_open_for_someone_else_or_log_a_phone_call() {
        let c = caller(Role::Customer);
        let mut r = req("phone");
        r.customer_id = Some(Uuid::new_v4());
        let err = validate(&c, &r, &limits()).expect_err("invalid");
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["customer_id", "channel"]);
    }

    #[test]
    fn staff_must_name_the_customer() {
        let a = caller(Role::Agent);
        assert!(validate(&a, &req("phone"), &limits()).is_err());
        let mut r = req("phone");
        let customer = Uuid::new_v4();
        r.customer_id = Some(customer);
        assert_eq!(validate(&a, &r, &limits()).expect("valid").customer_id, customer.into());
    }

    #[test]
    fn every_bad_field_is_reported() {
        let c = caller(Role::Customer);
        let r = TicketRequest {
            channel: "fax",
            subject: "",
            body: &"x".repeat(101),
            customer_id: None,
            priority: Some("asap"),
            fault: Some(&FaultRecord {
                fault_type: Some("cosmic".into()),
                ..FaultRecord::default()
            }),
        };
        let err = validate(&c, &r, &limits()).expect_err("invalid");
        assert_eq!(err.errors.len(), 5);
        assert_eq!(err.errors[4].field, "fault.fault_type");
    }

    #[test]
    fn staff_may_raise_priority_but_not_lower_what_classification_found() {
        assert_eq!(priority(None, Priority::High), Priority::High);
        assert_eq!(priority(Some(Priority::Urgent), Priority::Normal), Priority::Urgent);
        assert_eq!(priority(Some(Priority::Low), Priority::High), Priority::High);
    }

    #[test]
    fn only_the_owner_or_staff_may_read() {
        let c = caller(Role::Customer);
        assert!(c.may_read_customer(c.subject));
        assert!(!c.may_read_customer(Uuid::new_v4()));
        assert!(caller(Role::Agent).may_read_customer(Uuid::new_v4()));
    }
}
