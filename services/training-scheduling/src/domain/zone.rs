//! `VTIMEZONE` definitions built from the time-zone database (chrono-tz): the offset in force
//! at the start of a span and every change of offset within it, each as its own observance
//! (`STANDARD` or `DAYLIGHT`, with its onset in local time, `TZOFFSETFROM`, `TZOFFSETTO` and
//! `TZNAME`), so a calendar converts every local time of the feed exactly as the database does.

use chrono::{DateTime, Duration, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz};

/// A change of offset.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// When it happens.
    pub at: DateTime<Utc>,
    /// Seconds east of UTC before and after.
    pub from: i32,
    pub to: i32,
    /// The abbreviation after (`EDT`), when the database has one.
    pub name: String,
    /// Whether the new offset is daylight-saving time.
    pub dst: bool,
}

fn offset_at(tz: Tz, t: DateTime<Utc>) -> (i32, String, bool) {
    let o = tz.offset_from_utc_datetime(&t.naive_utc());
    let name = o.abbreviation().unwrap_or_default().to_owned();
    (o.fix().local_minus_utc(), name, !o.dst_offset().is_zero())
}

/// Every change of offset in `tz` between `from` and `to`, in order. Offsets are sampled
/// every six hours and each change is narrowed to the second.
pub fn transitions(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Transition> {
    const STEP: i64 = 6 * 3600;
    let at = |secs: i64| DateTime::from_timestamp(secs, 0).unwrap_or(from);
    let mut out = Vec::new();
    let (mut t, end) = (from.timestamp(), to.timestamp());
    let mut current = offset_at(tz, at(t)).0;
    while t < end {
        let next = (t + STEP).min(end);
        if offset_at(tz, at(next)).0 != current {
            // The change lies in (t, next]: find its first second.
            let (mut lo, mut hi) = (t, next);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset_at(tz, at(mid)).0 == current {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let (to_offset, name, dst) = offset_at(tz, at(hi));
            out.push(Transition {
                at: at(hi),
                from: current,
                to: to_offset,
                name,
                dst,
            });
            current = to_offset;
        }
        t = next;
    }
    out
}

/// `+0800`, `-0500`, `+053328` (seconds only when there are some).
pub fn format_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    if sec == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{sec:02}")
    }
}

fn local(at: DateTime<Utc>, offset: i32) -> NaiveDateTime {
    at.naive_utc() + Duration::seconds(i64::from(offset))
}

fn observance(lines: &mut Vec<String>, dst: bool, onset: NaiveDateTime, from: i32, to: i32, name: &str) {
    let kind = if dst { "DAYLIGHT" } else { "STANDARD" };
    lines.push(format!("BEGIN:{kind}"));
    lines.push(format!("DTSTART:{}", onset.format("%Y%m%dT%H%M%S")));
    lines.push(format!("TZOFFSETFROM:{}", format_offset(from)));
    lines.push(format!("TZOFFSETTO:{}", format_offset(to)));
    if !name.is_empty() {
        lines.push(format!("TZNAME:{name}"));
    }
    lines.push(format!("END:{kind}"));
}

/// The `VTIMEZONE` component (CRLF lines) for `tz`, valid for every local time from `from` to
/// `to`.
pub fn vtimezone(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let mut lines = vec!["BEGIN:VTIMEZONE".to_owned(), format!("TZID:{}", tz.name())];
    let (offset, name, dst) = offset_at(tz, from);
    observance(&mut lines, dst, local(from, offset), offset, offset, &name);
    for t in transitions(tz, from, to) {
        // The onset is written in the local time in force before it.
        observance(&mut lines, t.dst, local(t.at, t.from), t.from, t.to, &t.name);
    }
    lines.push("END:VTIMEZONE".to_owned());
    let mut text = lines.join("\r\n");
    text.push_str("\r\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
    }

    #[test]
    fn new_york_changes_twice_a_year_and_shanghai_never() {
        let ny = transitions(
            chrono_tz::America::New_York,
            at("2030-01-01T00:00:00Z"),
            at("2031-01-01T00:00:00Z"),
        );
        assert_eq!(ny.len(), 2);
        // 2030-03-10 02:00 EST → 03:00 EDT; 2030-11-03 02:00 EDT → 01:00 EST.
        assert_eq!(ny[0].at, at("2030-03-10T07:00:00Z"));
        assert_eq!((ny[0].from, ny[0].to, ny[0].dst), (-18_000, -14_400, true));
        assert_eq!(ny[0].name, "EDT");
        assert_eq!(ny[1].at, at("2030-11-03T06:00:00Z"));
        assert!(!ny[1].dst);
        assert!(
            transitions(
                chrono_tz::Asia::Shanghai,
                at("2030-01-01T00:00:00Z"),
                at("2031-01-01T00:00:00Z")
            )
            .is_empty()
        );
        let text = vtimezone(
            chrono_tz::Europe::Berlin,
            at("2030-03-01T00:00:00Z"),
            at("2030-04-30T00:00:00Z"),
        );
        assert!(text.contains("BEGIN:DAYLIGHT\r\nDTSTART:20300331T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200"));
        assert_eq!(format_offset(-18_000), "-0500");
        assert_eq!(format_offset(20_700), "+0545");
    }
}
