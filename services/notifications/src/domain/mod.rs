//! Notification rules, free of I/O.

pub mod address;
pub mod delivery;
pub mod render;
pub mod rules;
pub mod schedule;
pub mod webhook;

/// Locales the seeded templates speak; others fall back to the default locale.
pub const LOCALES: [&str; 2] = ["zh-CN", "en"];

/// A recipient's or event's language mapped to a template locale (`zh` → `zh-CN`).
pub fn locale_of(tag: &str) -> String {
    match tag {
        "zh" | "zh-CN" | "zh-Hans" | "zh-Hans-CN" => "zh-CN".to_owned(),
        t if t == "en" || t.starts_with("en-") => "en".to_owned(),
        t => t.to_owned(),
    }
}
