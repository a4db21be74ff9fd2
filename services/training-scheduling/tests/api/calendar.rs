//! The iCalendar feed read back with a real parser (the `icalendar` crate's, expanding the RRULE
//! with the `rrule` crate): a weekly class in New York across the 2030 daylight-saving change,
//! one occurrence moved and one cancelled. Every instant is checked twice: as the parser's
//! expansion gives it, and by converting each local time with the feed's own VTIMEZONE.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use icalendar::parser::{Component as Parsed, read_calendar, unfold};
use icalendar::{CalendarDateTime, Component, DatePerhapsTime, EventLike, EventStatus};
use serde_json::json;
use uuid::Uuid;

use super::{advisor, app, course, customer, feeder, id, supervisor, trainer_token};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// The feed's VTIMEZONE observances: (onset in local time, offset after it in seconds).
fn observances(vtimezone: &Parsed<'_>) -> Vec<(NaiveDateTime, i64)> {
    let offset = |s: &str| {
        let sign = if s.starts_with('-') { -1 } else { 1 };
        let digits = &s[1..];
        let h: i64 = digits[..2].parse().expect("hours");
        let m: i64 = digits[2..4].parse().expect("minutes");
        sign * (h * 3600 + m * 60)
    };
    let mut out: Vec<(NaiveDateTime, i64)> = vtimezone
        .components
        .iter()
        .map(|o| {
            assert!(
                matches!(o.name.as_str(), "STANDARD" | "DAYLIGHT"),
                "{}",
                o.name.as_str()
            );
            let onset = o.find_prop("DTSTART").expect("DTSTART").val.as_str();
            let to = o.find_prop("TZOFFSETTO").expect("TZOFFSETTO").val.as_str();
            (
                NaiveDateTime::parse_from_str(onset, "%Y%m%dT%H%M%S").expect("onset"),
                offset(to),
            )
        })
        .collect();
    out.sort();
    out
}

/// A local time of the zone as UTC, by the VTIMEZONE alone (the observance in force is the
/// latest whose onset is not after it).
fn by_vtimezone(obs: &[(NaiveDateTime, i64)], local: NaiveDateTime) -> DateTime<Utc> {
    let offset = obs
        .iter()
        .rev()
        .find(|(onset, _)| *onset <= local)
        .map(|(_, o)| *o)
        .unwrap_or_else(|| panic!("no observance covers {local}"));
    (local - Duration::seconds(offset)).and_utc()
}

fn zoned(dt: Option<DatePerhapsTime>) -> (NaiveDateTime, String) {
    match dt {
        Some(DatePerhapsTime::DateTime(CalendarDateTime::WithTimezone { date_time, tzid })) => (date_time, tzid),
        other => panic!("expected a local time with TZID, got {other:?}"),
    }
}

/// Creates the class, enrols a student, moves the third occurrence and cancels the fifth.
#[tokio::test]
async fn a_weekly_class_across_the_daylight_saving_change_reads_back_instant_by_instant() {
    let app = app().await;
    let course = course(&app).await;
    let trainer = Uuid::new_v4();
    // Mondays 18:00 in New York; DST starts on Sunday 2030-03-10.
    let (status, class) = app
        .post_json(
            &format!("/v1/courses/{course}/classes"),
            &advisor(),
            &json!({
                "code": "eng-ny-1", "title": "English Club (NY)", "mode": "on_site", "room": "NY 5th Ave 301",
                "trainer_id": trainer, "capacity": 10, "time_zone": "America/New_York",
                "starts_at": "2030-02-25T18:00:00-05:00", "ends_at": "2030-02-25T19:30:00-05:00",
                "recurrence": "FREQ=WEEKLY;BYDAY=MO;COUNT=6"
            }),
        )
        .await;
    assert_eq!(status, 201, "{class}");
    let starts: Vec<&str> = class["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .filter_map(|s| s["starts_at"].as_str())
        .collect();
    assert_eq!(
        starts,
        [
            "2030-02-25T23:00:00Z",
            "2030-03-04T23:00:00Z",
            "2030-03-11T22:00:00Z",
            "2030-03-18T22:00:00Z",
            "2030-03-25T22:00:00Z",
            "2030-04-01T22:00:00Z"
        ]
    );
    let (third, fifth) = (id(&class["sessions"][2]), id(&class["sessions"][4]));
    let (status, _) = app
        .post_json(
            &format!("/v1/sessions/{third}/reschedule"),
            &supervisor(),
            &json!({"starts_at": "2030-03-12T19:00:00-04:00", "ends_at": "2030-03-12T20:30:00-04:00", "reason": "Teacher away"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .post_json(
            &format!("/v1/sessions/{fifth}/cancel"),
            &supervisor(),
            &json!({"reason": "Holiday"}),
        )
        .await;
    assert_eq!(status, 200);
    let student = Uuid::new_v4();
    let (status, _) = app
        .put_json(
            &format!("/v1/enrolments/{}", Uuid::new_v4()),
            &feeder(),
            &json!({"class_id": "eng-ny-1", "customer_id": student}),
        )
        .await;
    assert_eq!(status, 201);

    let (status, issued) = app
        .post_json(
            "/v1/calendar-feeds",
            &customer(student),
            &json!({"view": "participant"}),
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let url = issued["url"].as_str().expect("url");
    assert!(url.starts_with("http://localhost:8084/v1/calendars/"), "{url}");
    let feed_path = format!("/v1/calendars/{}", issued["token"].as_str().expect("token"));
    let response = app
        .client
        .get(format!("{}{feed_path}", app.url))
        .send()
        .await
        .expect("feed");
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/calendar"))
    );
    let text = response.text().await.expect("text");

    // The parser's own reading.
    let unfolded = unfold(&text);
    let parsed = read_calendar(&unfolded).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let zones: Vec<&Parsed<'_>> = parsed
        .components
        .iter()
        .filter(|c| c.name.as_str() == "VTIMEZONE")
        .collect();
    assert_eq!(zones.len(), 1, "{text}");
    assert_eq!(
        zones[0].find_prop("TZID").map(|p| p.val.as_str()),
        Some("America/New_York")
    );
    assert!(zones[0].find_prop("DTSTAMP").is_none() && zones[0].find_prop("UID").is_none());
    let obs = observances(zones[0]);
    assert!(
        obs.iter()
            .any(|(onset, offset)| onset.to_string() == "2030-03-10 02:00:00" && *offset == -4 * 3600),
        "{obs:?}"
    );

    let calendar: icalendar::Calendar = text.parse().unwrap_or_else(|e| panic!("{e}\n{text}"));
    let events: Vec<&icalendar::Event> = calendar.events().collect();
    assert_eq!(events.len(), 3, "the series and two overrides:\n{text}");
    let uid = format!("{}@edu-support", id(&class));
    assert!(
        events.iter().all(|e| e.get_uid() == Some(uid.as_str())),
        "one stable UID"
    );
    let master = events
        .iter()
        .find(|e| e.property_value("RRULE").is_some())
        .expect("the series");
    assert_eq!(master.get_sequence(), Some(0));
    let (first_local, tzid) = zoned(master.get_start());
    assert_eq!(tzid, "America/New_York");
    let instances = master.get_recurrence().expect("a recurrence set").all(100);
    assert!(!instances.limited);
    let expanded: Vec<DateTime<Utc>> = instances.dates.iter().map(|d| d.with_timezone(&Utc)).collect();
    // Each instance's local wall time is 18:00; the VTIMEZONE must put it at the same instant.
    let tz: chrono_tz::Tz = tzid.parse().expect("zone");
    for instant in &expanded {
        let local = instant.with_timezone(&tz).naive_local();
        assert_eq!(local.time(), first_local.time());
        assert_eq!(by_vtimezone(&obs, local), *instant, "VTIMEZONE disagrees at {local}");
    }
    // Overrides by RECURRENCE-ID (as an instant).
    let mut overrides = BTreeMap::new();
    for e in events.iter().filter(|e| e.property_value("RRULE").is_none()) {
        let (rid, _) = zoned(e.get_recurrence_id());
        let (start, _) = zoned(e.get_start());
        let (end, _) = zoned(e.get_end());
        assert_eq!(e.get_sequence(), Some(1), "one change each");
        overrides.insert(
            by_vtimezone(&obs, rid),
            (by_vtimezone(&obs, start), by_vtimezone(&obs, end), e.get_status()),
        );
    }
    let effective: Vec<(DateTime<Utc>, DateTime<Utc>, Option<EventStatus>)> = expanded
        .iter()
        .map(|s| {
            overrides
                .get(s)
                .cloned()
                .unwrap_or((*s, *s + Duration::minutes(90), Some(EventStatus::Confirmed)))
        })
        .collect();
    let expected = [
        ("2030-02-25T23:00:00Z", "2030-02-26T00:30:00Z", EventStatus::Confirmed),
        ("2030-03-04T23:00:00Z", "2030-03-05T00:30:00Z", EventStatus::Confirmed),
        ("2030-03-12T23:00:00Z", "2030-03-13T00:30:00Z", EventStatus::Confirmed), // moved
        ("2030-03-18T22:00:00Z", "2030-03-18T23:30:00Z", EventStatus::Confirmed),
        ("2030-03-25T22:00:00Z", "2030-03-25T23:30:00Z", EventStatus::Cancelled),
        ("2030-04-01T22:00:00Z", "2030-04-01T23:30:00Z", EventStatus::Confirmed),
    ];
    assert_eq!(effective.len(), expected.len(), "{text}");
    for ((start, end, status), (want_start, want_end, want_status)) in effective.iter().zip(expected) {
        assert_eq!((*start, *end), (at(want_start), at(want_end)), "{text}");
        assert_eq!(*status, Some(want_status), "{want_start}");
    }

    // Another change to the moved occurrence: the same UID, SEQUENCE 2.
    let (status, _) = app
        .post_json(
            &format!("/v1/sessions/{third}/reschedule"),
            &supervisor(),
            &json!({"starts_at": "2030-03-13T19:00:00-04:00", "ends_at": "2030-03-13T20:30:00-04:00", "reason": "Again"}),
        )
        .await;
    assert_eq!(status, 200);
    let again = app
        .client
        .get(format!("{}{feed_path}", app.url))
        .send()
        .await
        .expect("feed")
        .text()
        .await
        .expect("text");
    let calendar: icalendar::Calendar = again.parse().expect("parses");
    let moved = calendar
        .events()
        .find(|e| e.get_recurrence_id().is_some() && e.get_status() == Some(EventStatus::Confirmed))
        .expect("the moved occurrence");
    assert_eq!((moved.get_uid(), moved.get_sequence()), (Some(uid.as_str()), Some(2)));
    assert_eq!(zoned(moved.get_start()).0.to_string(), "2030-03-13 19:00:00");

    // The trainer's feed shows the same series; a new token replaces the old one.
    let (status, issued) = app
        .post_json(
            "/v1/calendar-feeds",
            &trainer_token(trainer),
            &json!({"view": "trainer"}),
        )
        .await;
    assert_eq!(status, 201);
    let trainer_feed = app
        .client
        .get(format!(
            "{}/v1/calendars/{}",
            app.url,
            issued["token"].as_str().expect("token")
        ))
        .send()
        .await
        .expect("feed")
        .text()
        .await
        .expect("text");
    assert!(trainer_feed.contains(&format!("UID:{uid}")));
    let (status, _) = app
        .post_json(
            "/v1/calendar-feeds",
            &customer(student),
            &json!({"view": "participant"}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(app.get_status(&feed_path, "").await.0, 404, "the old token is revoked");
}
