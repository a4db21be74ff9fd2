//! Customers' support profiles: who they are (role, segments, language, level, time zone) and
//! how to reach them on each channel. The company's own systems own this data and upsert it.

use platform::ApiError;
use platform::error::Validator;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const ROLES: [&str; 4] = ["student", "parent", "teacher", "institution"];
pub const SEGMENTS: [&str; 3] = ["new_user", "vip", "special_needs"];
pub const LANGUAGES: [&str; 2] = ["zh-CN", "en"];
pub const CONTACT_CHANNELS: [&str; 5] = ["email", "phone", "sms", "wechat", "chat"];

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// `email`, `phone`, `sms`, `wechat` or `chat`.
    #[schema(example = "email")]
    pub channel: String,
    #[schema(example = "parent@example.com")]
    pub address: String,
}

/// A profile as the company's systems send it (the whole profile: contacts are replaced).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerProfile {
    #[serde(default)]
    pub display_name: Option<String>,
    /// `student`, `parent`, `teacher` or `institution`.
    #[schema(example = "parent")]
    pub role: String,
    /// Any of `new_user`, `vip`, `special_needs`.
    #[serde(default)]
    pub segments: Vec<String>,
    /// `zh-CN` (default) or `en`.
    #[serde(default)]
    pub preferred_language: Option<String>,
    /// `k12`, `higher` or `vocational`.
    #[serde(default)]
    pub education_level: Option<String>,
    /// An IANA time zone; default `Asia/Shanghai`.
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub contacts: Vec<Contact>,
}

impl CustomerProfile {
    /// Checks every field, reporting each bad one; returns the profile normalised (sorted,
    /// de-duplicated segments; trimmed, lower-cased email addresses; defaults filled in).
    pub fn validate(mut self) -> Result<Self, ApiError> {
        let mut v = Validator::new();
        if let Some(name) = &self.display_name {
            v.text(name, "display_name", 200);
        }
        v.check(
            ROLES.contains(&self.role.as_str()),
            "role",
            format!("must be one of {}", ROLES.join(", ")),
        );
        for s in &self.segments {
            v.check(
                SEGMENTS.contains(&s.as_str()),
                "segments",
                format!("`{s}` is not one of {}", SEGMENTS.join(", ")),
            );
        }
        let language = self.preferred_language.get_or_insert_with(|| "zh-CN".to_owned());
        v.check(
            LANGUAGES.contains(&language.as_str()),
            "preferred_language",
            "must be zh-CN or en",
        );
        if let Some(level) = &self.education_level {
            v.check(
                crate::domain::classify::EDUCATION_LEVELS.contains(&level.as_str()),
                "education_level",
                "must be k12, higher or vocational",
            );
        }
        let zone = self.time_zone.get_or_insert_with(|| "Asia/Shanghai".to_owned());
        v.time_zone(zone, "time_zone");
        v.check(self.contacts.len() <= 20, "contacts", "at most 20 contacts");
        for (i, c) in self.contacts.iter_mut().enumerate() {
            c.address = c.address.trim().to_owned();
            if c.channel == "email" {
                c.address = c.address.to_lowercase();
            }
            v.check(
                CONTACT_CHANNELS.contains(&c.channel.as_str()),
                &format!("contacts[{i}].channel"),
                format!("must be one of {}", CONTACT_CHANNELS.join(", ")),
            );
            v.text(&c.address, &format!("contacts[{i}].address"), 320);
            if c.channel == "email" {
                v.email(&c.address, &format!("contacts[{i}].address"));
            }
        }
        v.finish()?;
        self.segments.sort();
        self.segments.dedup();
        self.contacts
            .sort_by(|a, b| (&a.channel, &a.address).cmp(&(&b.channel, &b.address)));
        self.contacts.dedup();
        self.display_name = self.display_name.map(|n| n.trim().to_owned());
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> CustomerProfile {
        CustomerProfile {
            display_name: Some(" 王女士 ".into()),
            role: "parent".into(),
            segments: vec!["vip".into(), "new_user".into(), "vip".into()],
            preferred_language: None,
            education_level: Some("k12".into()),
            time_zone: None,
            contacts: vec![Contact {
                channel: "email".into(),
                address: " Wang@Example.COM ".into(),
            }],
        }
    }

    #[test]
    fn a_profile_is_normalised_with_defaults() {
        let p = profile().validate().expect("valid");
        assert_eq!(p.segments, ["new_user", "vip"]);
        assert_eq!(p.contacts[0].address, "wang@example.com");
        assert_eq!(p.preferred_language.as_deref(), Some("zh-CN"));
        assert_eq!(p.time_zone.as_deref(), Some("Asia/Shanghai"));
        assert_eq!(p.display_name.as_deref(), Some("王女士"));
    }

    #[test]
    fn each_bad_field_is_named() {
        let mut p = profile();
        p.role = "alien".into();
        p.segments.push("gold".into());
        p.time_zone = Some("Mars/Olympus".into());
        p.contacts.push(Contact {
            channel: "email".into(),
            address: "not-an-address".into(),
        });
        let err = p.validate().expect_err("invalid");
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["role", "segments", "time_zone", "contacts[1].address"]);
    }
}
