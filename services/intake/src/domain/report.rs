//! The quality report's figures: additive [`Figures`] of a set of tickets, log-scale
//! histograms for the percentiles (5% wide buckets: a percentile is within ±2.5% of the exact
//! value), and how a period splits into whole days, whole hours and the rest.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

/// Dimensions a report is grouped by.
pub const DIMENSIONS: [&str; 5] = ["all", "channel", "category", "agent", "customer_role"];

/// Keywords kept per day in the rollup (the report shows the top 20 of the period).
const KEYWORDS_PER_DAY: usize = 200;

/// Histogram bucket growth: 5% per bucket.
const GROWTH: f64 = 1.05;

/// Histogram: counts by bucket (index), up to the last bucket used. Dense, so merging and
/// parsing are cheap.
pub type Hist = Vec<u64>;

pub fn bucket(secs: f64) -> usize {
    ((1.0 + secs.max(0.0)).ln() / GROWTH.ln()).floor() as usize
}

fn hist_add(h: &mut Hist, bucket: usize, n: u64) {
    if h.len() <= bucket {
        h.resize(bucket + 1, 0);
    }
    h[bucket] += n;
}

fn hist_merge(h: &mut Hist, o: &Hist) {
    if h.len() < o.len() {
        h.resize(o.len(), 0);
    }
    for (a, b) in h.iter_mut().zip(o) {
        *a += b;
    }
}

/// The `p` quantile (0-1) of a histogram: the geometric middle of its bucket, in seconds.
pub fn quantile(h: &Hist, p: f64) -> Option<f64> {
    let total: u64 = h.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = (p * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (b, n) in h.iter().enumerate() {
        seen += n;
        if seen >= rank {
            let b = i32::try_from(b).unwrap_or(i32::MAX);
            let lo = GROWTH.powi(b) - 1.0;
            let hi = GROWTH.powi(b + 1) - 1.0;
            return Some(((lo.max(0.0) + 1.0) * (hi + 1.0)).sqrt() - 1.0);
        }
    }
    None
}

/// Additive figures of a set of tickets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub volume: u64,
    /// Seconds to the first public staff reply.
    pub first_response: Hist,
    pub within_5_min: u64,
    /// Tickets handled by people (not deflected, not cancelled).
    pub handled: u64,
    pub resolved: u64,
    pub resolution_secs_sum: f64,
    pub resolution: Hist,
    pub surveys: u64,
    pub csat_n: u64,
    pub csat_sum: u64,
    pub deflected: u64,
    pub reopened: u64,
    pub targeted: u64,
    pub target_met: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub keywords: BTreeMap<String, u64>,
    /// Article id → [tickets it answered automatically, of those resolved without a person].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub articles: BTreeMap<String, [u64; 2]>,
}

impl Figures {
    pub fn merge(&mut self, o: &Figures) {
        self.volume += o.volume;
        hist_merge(&mut self.first_response, &o.first_response);
        self.within_5_min += o.within_5_min;
        self.handled += o.handled;
        self.resolved += o.resolved;
        self.resolution_secs_sum += o.resolution_secs_sum;
        hist_merge(&mut self.resolution, &o.resolution);
        self.surveys += o.surveys;
        self.csat_n += o.csat_n;
        self.csat_sum += o.csat_sum;
        self.deflected += o.deflected;
        self.reopened += o.reopened;
        self.targeted += o.targeted;
        self.target_met += o.target_met;
        for (k, n) in &o.keywords {
            *self.keywords.entry(k.clone()).or_default() += n;
        }
        for (a, [n, d]) in &o.articles {
            let e = self.articles.entry(a.clone()).or_default();
            e[0] += n;
            e[1] += d;
        }
    }

    pub fn add(&mut self, t: &Fact) {
        self.volume += 1;
        if let Some(frt) = t.first_response_secs {
            hist_add(&mut self.first_response, bucket(frt), 1);
            if frt <= 300.0 {
                self.within_5_min += 1;
            }
        }
        if !t.deflected && t.status != "cancelled" {
            self.handled += 1;
        }
        if let Some(r) = t.resolution_secs {
            self.resolved += 1;
            self.resolution_secs_sum += r;
            hist_add(&mut self.resolution, bucket(r), 1);
        }
        if t.surveyed {
            self.surveys += 1;
        }
        if let Some(score) = t.score {
            self.csat_n += 1;
            self.csat_sum += u64::try_from(score).unwrap_or(0);
        }
        self.deflected += u64::from(t.deflected);
        self.reopened += u64::from(t.reopen_count > 0);
        if let Some(met) = t.target_met {
            self.targeted += 1;
            self.target_met += u64::from(met);
        }
    }

    fn ratio(n: u64, d: u64) -> Option<f64> {
        (d > 0).then(|| n as f64 / d as f64)
    }

    pub fn answered_within_5_min(&self) -> Option<f64> {
        Self::ratio(self.within_5_min, self.handled)
    }
    pub fn resolution_rate(&self) -> Option<f64> {
        Self::ratio(self.resolved, self.volume)
    }
    pub fn resolution_avg_secs(&self) -> Option<f64> {
        (self.resolved > 0).then(|| self.resolution_secs_sum / self.resolved as f64)
    }
    pub fn csat_average(&self) -> Option<f64> {
        (self.csat_n > 0).then(|| self.csat_sum as f64 / self.csat_n as f64)
    }
    pub fn csat_response_rate(&self) -> Option<f64> {
        Self::ratio(self.csat_n, self.surveys)
    }
    pub fn deflection_rate(&self) -> Option<f64> {
        Self::ratio(self.deflected, self.volume)
    }
    pub fn reopen_rate(&self) -> Option<f64> {
        Self::ratio(self.reopened, self.volume)
    }
    pub fn within_target_rate(&self) -> Option<f64> {
        Self::ratio(self.target_met, self.targeted)
    }
}

/// What the report needs of one ticket.
#[derive(Debug, sqlx::FromRow)]
pub struct Fact {
    /// UTC hour of creation.
    pub hour: i32,
    pub channel: String,
    pub category: String,
    pub agent: Option<String>,
    pub customer_role: Option<String>,
    pub status: String,
    pub first_response_secs: Option<f64>,
    pub resolution_secs: Option<f64>,
    pub deflected: bool,
    pub reopen_count: i32,
    pub target_met: Option<bool>,
    pub surveyed: bool,
    pub score: Option<i16>,
    pub keywords: Vec<String>,
    pub article: Option<String>,
}

/// Figures per (dimension, key) of `facts`; keywords only on `all`.
pub fn aggregate(facts: &[Fact]) -> BTreeMap<(&'static str, String), Figures> {
    let mut out: BTreeMap<(&'static str, String), Figures> = BTreeMap::new();
    for f in facts {
        for (dim, key) in [
            ("all", String::new()),
            ("channel", f.channel.clone()),
            ("category", f.category.clone()),
            ("agent", f.agent.clone().unwrap_or_default()),
            ("customer_role", f.customer_role.clone().unwrap_or_default()),
        ] {
            out.entry((dim, key)).or_default().add(f);
        }
        let all = out.entry(("all", String::new())).or_default();
        for k in &f.keywords {
            *all.keywords.entry(k.clone()).or_default() += 1;
        }
        if let Some(a) = &f.article {
            let e = all.articles.entry(a.clone()).or_default();
            e[0] += 1;
            e[1] += u64::from(f.deflected);
        }
    }
    out
}

pub fn day_start(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(NaiveTime::MIN).and_utc()
}

/// Keeps the most frequent keywords only (rollup rows stay small).
pub fn trim_keywords(f: &mut Figures) {
    let mut top: Vec<(String, u64)> = std::mem::take(&mut f.keywords).into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    f.keywords = top.into_iter().take(KEYWORDS_PER_DAY).collect();
}

/// One day's rollup rows from its tickets: each hour's figures (`hour` 0-23) and the whole
/// day's (`hour` -1), per (dimension, key), keywords trimmed to the most frequent.
pub fn day_rollups(facts: Vec<Fact>) -> Vec<(i16, &'static str, String, Figures)> {
    let mut by_hour: BTreeMap<i32, Vec<Fact>> = BTreeMap::new();
    for f in facts {
        by_hour.entry(f.hour).or_default().push(f);
    }
    let mut rows = Vec::new();
    let mut whole: BTreeMap<(&'static str, String), Figures> = BTreeMap::new();
    for (hour, facts) in &by_hour {
        for ((dim, key), mut f) in aggregate(facts) {
            whole.entry((dim, key.clone())).or_default().merge(&f);
            trim_keywords(&mut f);
            rows.push((i16::try_from(*hour).unwrap_or(-1), dim, key, f));
        }
    }
    for ((dim, key), mut f) in whole {
        trim_keywords(&mut f);
        rows.push((-1, dim, key, f));
    }
    rows
}

/// The (day, hour of day) of an hour's start, as rollup rows key it.
pub fn day_and_hour(h: DateTime<Utc>) -> (NaiveDate, i16) {
    let hour = i16::try_from(h.timestamp().rem_euclid(86_400) / 3600).unwrap_or(-1);
    (h.date_naive(), hour)
}

/// Where each part of a period's figures comes from.
#[derive(Debug, Default, PartialEq)]
pub struct PeriodPlan {
    /// Whole days `[first, end)` from daily rollups.
    pub days: Option<(NaiveDate, NaiveDate)>,
    /// Whole hours (their start) from hourly rollups.
    pub hours: Vec<DateTime<Utc>>,
    /// Pieces computed from the tickets.
    pub raw: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

fn ceil_to(t: DateTime<Utc>, step: chrono::Duration) -> DateTime<Utc> {
    let secs = step.num_seconds();
    let ts = t.timestamp();
    let up = if t.timestamp_subsec_nanos() == 0 && ts.rem_euclid(secs) == 0 {
        ts
    } else {
        (ts.div_euclid(secs) + 1) * secs
    };
    DateTime::from_timestamp(up, 0).unwrap_or(t)
}

fn floor_to(t: DateTime<Utc>, step: chrono::Duration) -> DateTime<Utc> {
    let secs = step.num_seconds();
    DateTime::from_timestamp(t.timestamp().div_euclid(secs) * secs, 0).unwrap_or(t)
}

/// Splits `[from, to)` into whole days, whole hours and the rest.
pub fn plan(from: DateTime<Utc>, to: DateTime<Utc>) -> PeriodPlan {
    let day = chrono::Duration::days(1);
    let hour = chrono::Duration::hours(1);
    let mut p = PeriodPlan::default();
    let (d1, d2) = (ceil_to(from, day), floor_to(to, day));
    let edges = if d1 < d2 {
        p.days = Some((d1.date_naive(), d2.date_naive()));
        vec![(from, d1), (d2, to)]
    } else {
        vec![(from, to)]
    };
    for (a, b) in edges.into_iter().filter(|(a, b)| a < b) {
        let (h1, h2) = (ceil_to(a, hour), floor_to(b, hour));
        if h1 < h2 {
            let mut h = h1;
            while h < h2 {
                p.hours.push(h);
                h += hour;
            }
            p.raw.extend([(a, h1), (h2, b)].into_iter().filter(|(x, y)| x < y));
        } else {
            p.raw.push((a, b));
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_from_the_histogram_are_within_the_bucket_width() {
        let mut h = Hist::new();
        for secs in 1..=1000 {
            hist_add(&mut h, bucket(f64::from(secs)), 1);
        }
        let p50 = quantile(&h, 0.5).expect("p50");
        let p90 = quantile(&h, 0.9).expect("p90");
        assert!((p50 - 500.0).abs() / 500.0 < 0.03, "{p50}");
        assert!((p90 - 900.0).abs() / 900.0 < 0.03, "{p90}");
        assert_eq!(quantile(&Hist::new(), 0.5), None);
    }

    #[test]
    fn a_period_is_split_into_whole_days_whole_hours_and_the_rest() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc);
        let p = plan(t("2026-11-01T22:30:00Z"), t("2026-11-04T01:15:00Z"));
        assert_eq!(
            p.days,
            Some((
                NaiveDate::from_ymd_opt(2026, 11, 2).expect("day"),
                NaiveDate::from_ymd_opt(2026, 11, 4).expect("day")
            ))
        );
        assert_eq!(p.hours, vec![t("2026-11-01T23:00:00Z"), t("2026-11-04T00:00:00Z")]);
        assert_eq!(
            p.raw,
            vec![
                (t("2026-11-01T22:30:00Z"), t("2026-11-01T23:00:00Z")),
                (t("2026-11-04T01:00:00Z"), t("2026-11-04T01:15:00Z"))
            ]
        );
        let inside = plan(t("2026-11-01T10:10:00Z"), t("2026-11-01T10:50:00Z"));
        assert_eq!(inside.days, None);
        assert!(inside.hours.is_empty());
        assert_eq!(inside.raw.len(), 1);
        let aligned = plan(t("2026-11-01T00:00:00Z"), t("2026-11-02T00:00:00Z"));
        assert!(aligned.hours.is_empty() && aligned.raw.is_empty());
    }

    #[test]
    fn figures_merge_by_addition() {
        let mut a = Figures {
            volume: 2,
            within_5_min: 1,
            handled: 2,
            ..Figures::default()
        };
        hist_add(&mut a.first_response, 10, 2);
        let mut b = a.clone();
        b.keywords.insert("直播".into(), 3);
        a.merge(&b);
        assert_eq!(a.volume, 4);
        assert_eq!(a.first_response[10], 4);
        assert_eq!(a.answered_within_5_min(), Some(0.5));
        assert_eq!(a.keywords["直播"], 3);
    }
}
