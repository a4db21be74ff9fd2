//! A person's iCalendar feed (RFC 5545), written with the `icalendar` crate.
//!
//! Each class or training is one calendar item with a stable UID (`<offering id>@edu-support`):
//! a recurring one is written as its rule (`DTSTART;TZID=…` + `RRULE`) with `EXDATE` for the
//! occurrences the person does not attend, and one override per occurrence that was moved
//! (`RECURRENCE-ID` = where the rule put it, `DTSTART` = where it is now) or cancelled
//! (`STATUS:CANCELLED`); a single session is one event. `SEQUENCE` is the offering's revision
//! plus the occurrence's, so it grows on every change. Every local time is given in the
//! offering's time zone, whose `VTIMEZONE` (from the time-zone database) the feed carries.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use chrono_tz::Tz;
use icalendar::{Calendar, CalendarDateTime, Component, EventLike, EventStatus, Property};
use std::collections::BTreeMap;
use uuid::Uuid;

use super::zone;

/// One session of an offering the person takes part in (or teaches), with what the feed needs
/// of its offering.
#[derive(Debug, Clone)]
pub struct FeedSession {
    pub offering_id: Uuid,
    pub offering_sequence: i32,
    pub title: String,
    pub description: String,
    pub kind: String,
    pub time_zone: String,
    pub rrule: Option<String>,
    pub first_starts_at: DateTime<Utc>,
    pub duration_minutes: i32,
    pub session_id: Uuid,
    pub original_starts_at: DateTime<Utc>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The meeting link or the room.
    pub location: Option<String>,
    pub cancelled: bool,
    pub sequence: i32,
    /// Whether the person attends (or teaches) this occurrence; the others of a recurring
    /// offering become `EXDATE`s.
    pub held: bool,
}

/// The UID of an offering's calendar item.
pub fn uid(offering_id: Uuid) -> String {
    format!("{offering_id}@edu-support")
}

fn local(tz: Tz, at: DateTime<Utc>) -> CalendarDateTime {
    CalendarDateTime::WithTimezone {
        date_time: at.with_timezone(&tz).naive_local(),
        tzid: tz.name().to_owned(),
    }
}

fn tz_of(s: &FeedSession) -> Tz {
    s.time_zone.parse().unwrap_or(Tz::UTC)
}

fn zoned(key: &str, tz: Tz, at: DateTime<Utc>) -> Property {
    let value: NaiveDateTime = at.with_timezone(&tz).naive_local();
    Property::new(key, value.format("%Y%m%dT%H%M%S").to_string())
        .add_parameter("TZID", tz.name())
        .done()
}

fn base_event(s: &FeedSession, now: DateTime<Utc>) -> icalendar::Event {
    let mut e = icalendar::Event::new();
    e.uid(&uid(s.offering_id))
        .timestamp(now)
        .summary(&s.title)
        .add_property("CATEGORIES", s.kind.to_uppercase().replace('_', "-"));
    if !s.description.is_empty() {
        e.description(&s.description);
    }
    if let Some(location) = &s.location {
        e.location(location);
    }
    e
}

/// An occurrence as it stands now: its times, status and revision.
fn occurrence(e: &mut icalendar::Event, s: &FeedSession, tz: Tz) {
    e.starts(local(tz, s.starts_at))
        .ends(local(tz, s.ends_at))
        .sequence(u32::try_from(s.offering_sequence + s.sequence).unwrap_or(0))
        .status(if s.cancelled {
            EventStatus::Cancelled
        } else {
            EventStatus::Confirmed
        });
}

/// The feed's text for `sessions` (any order), stamped `now`.
pub fn feed(name: &str, sessions: &[FeedSession], now: DateTime<Utc>) -> String {
    let mut by_offering: BTreeMap<Uuid, Vec<&FeedSession>> = BTreeMap::new();
    for s in sessions {
        by_offering.entry(s.offering_id).or_default().push(s);
    }
    // Each zone's definition covers every time the feed writes in it.
    let mut spans: BTreeMap<String, (Tz, DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
    for s in sessions {
        let tz = tz_of(s);
        let from = s.original_starts_at.min(s.starts_at).min(s.first_starts_at);
        let to = s
            .ends_at
            .max(s.original_starts_at + Duration::minutes(i64::from(s.duration_minutes)));
        let span = spans.entry(tz.name().to_owned()).or_insert((tz, from, to));
        span.1 = span.1.min(from);
        span.2 = span.2.max(to);
    }
    let mut cal = Calendar::empty();
    cal.append_property(Property::new("VERSION", "2.0"))
        .append_property(Property::new("PRODID", "-//edu-support//training-scheduling//EN"))
        .append_property(Property::new("CALSCALE", "GREGORIAN"))
        .append_property(Property::new("METHOD", "PUBLISH"))
        .append_property(Property::new("X-WR-CALNAME", name))
        .append_property(
            Property::new("REFRESH-INTERVAL", "PT1H")
                .add_parameter("VALUE", "DURATION")
                .done(),
        )
        .append_property(Property::new("X-PUBLISHED-TTL", "PT1H"));
    for group in by_offering.values_mut() {
        group.sort_by_key(|s| s.original_starts_at);
        let head = group[0];
        let tz = tz_of(head);
        match &head.rrule {
            Some(rule) => {
                let mut master = base_event(head, now);
                let first_end = head.first_starts_at + Duration::minutes(i64::from(head.duration_minutes));
                master
                    .starts(local(tz, head.first_starts_at))
                    .ends(local(tz, first_end))
                    .sequence(u32::try_from(head.offering_sequence).unwrap_or(0))
                    .status(EventStatus::Confirmed)
                    .add_property("RRULE", rule);
                for s in group.iter().filter(|s| !s.held) {
                    master.append_multi_property(zoned("EXDATE", tz, s.original_starts_at));
                }
                cal.push(master.done());
                for s in group.iter().filter(|s| s.held) {
                    let planned_end = s.original_starts_at + Duration::minutes(i64::from(s.duration_minutes));
                    if s.cancelled || s.starts_at != s.original_starts_at || s.ends_at != planned_end {
                        let mut e = base_event(s, now);
                        occurrence(&mut e, s, tz);
                        e.append_property(zoned("RECURRENCE-ID", tz, s.original_starts_at));
                        cal.push(e.done());
                    }
                }
            }
            None => {
                for s in group.iter().filter(|s| s.held) {
                    let mut e = base_event(s, now);
                    occurrence(&mut e, s, tz);
                    cal.push(e.done());
                }
            }
        }
    }
    // The crate writes no VTIMEZONE (and would stamp any component with DTSTAMP and UID, which
    // a VTIMEZONE must not carry): the definitions go in before the first event.
    let zones: String = spans
        .values()
        .map(|(tz, from, to)| zone::vtimezone(*tz, *from - Duration::days(1), *to + Duration::days(1)))
        .collect();
    let text = cal.to_string();
    let at = text
        .find("BEGIN:VEVENT")
        .or_else(|| text.rfind("END:VCALENDAR"))
        .unwrap_or(text.len());
    format!("{}{zones}{}", &text[..at], &text[at..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
    }

    fn weekly(n: usize) -> Vec<FeedSession> {
        let offering = Uuid::new_v4();
        (0..n)
            .map(|i| {
                let start = at("2030-03-04T10:00:00Z") + Duration::weeks(i as i64);
                FeedSession {
                    offering_id: offering,
                    offering_sequence: 0,
                    title: "数学 A 班".into(),
                    description: String::new(),
                    kind: "class".into(),
                    time_zone: "Europe/Berlin".into(),
                    rrule: Some(format!("FREQ=WEEKLY;COUNT={n}")),
                    first_starts_at: at("2030-03-04T10:00:00Z"),
                    duration_minutes: 60,
                    session_id: Uuid::new_v4(),
                    original_starts_at: start,
                    starts_at: start,
                    ends_at: start + Duration::minutes(60),
                    location: Some("Room 301".into()),
                    cancelled: false,
                    sequence: 0,
                    held: true,
                }
            })
            .collect()
    }

    #[test]
    fn a_series_is_one_rule_with_overrides_for_what_changed() {
        let mut sessions = weekly(4);
        sessions[1].cancelled = true;
        sessions[1].sequence = 1;
        sessions[2].starts_at += Duration::hours(2);
        sessions[2].ends_at += Duration::hours(2);
        sessions[2].sequence = 1;
        sessions[3].held = false;
        let text = feed("课表", &sessions, at("2030-03-01T00:00:00Z"));
        assert!(text.contains("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin"), "{text}");
        assert!(text.contains("RRULE:FREQ=WEEKLY;COUNT=4"), "{text}");
        assert!(text.contains("DTSTART;TZID=Europe/Berlin:20300304T110000"), "{text}");
        assert!(text.contains("EXDATE;TZID=Europe/Berlin:20300325T110000"), "{text}");
        assert_eq!(text.matches("RECURRENCE-ID;TZID=Europe/Berlin:").count(), 2, "{text}");
        assert_eq!(text.matches("STATUS:CANCELLED").count(), 1, "{text}");
        assert_eq!(text.matches("BEGIN:VEVENT").count(), 3, "{text}");
        // 2030-03-18 11:00 CET moved two hours: 13:00 CET.
        assert!(text.contains("DTSTART;TZID=Europe/Berlin:20300318T130000"), "{text}");
        assert!(text.contains("DTSTAMP:20300301T000000Z"), "{text}");
    }
}
