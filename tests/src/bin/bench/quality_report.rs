//! The quality report over 1,000,000 tickets vs the same figures computed by one SQL pass over
//! the tickets.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use platform::auth::Role;
use sqlx::Connection;
use system_tests::{Stack, token};
use uuid::Uuid;

use crate::Args;
use crate::support::pct;

/// Fills intake's database with `report_tickets` tickets over the last 30 days (with surveys),
/// lets intake build its rollups, then times the report API over the period, whole days and
/// arbitrary edges, for each grouping, against one SQL pass computing the same figures.
pub async fn run(stack: &mut Stack, args: &Args, report: &mut String) -> anyhow::Result<()> {
    let db = stack.database_url("intake");
    let mut conn = sqlx::PgConnection::connect(&db).await?;
    let started = Instant::now();
    let n = i64::try_from(args.report_tickets)?;
    // Spread evenly over 30 days; realistic shares of channels, categories, outcomes.
    let step = 30.0 * 86400.0 / n as f64;
    sqlx::query(
        "INSERT INTO ticket (id, customer_id, channel, subject, body, status, priority, category, language, keywords, \
                             high_emotion, created_by, created_at, updated_at, first_response_at, resolved_at, \
                             reopen_count, customer_role, assignee_id, resolved_by, deflected, resolve_by) \
         SELECT gen_random_uuid(), gen_random_uuid(), (ARRAY['web','chat','email','phone','walk_in','api'])[1 + (i % 6)], \
                'subject ' || i, 'body', \
                CASE WHEN i % 10 < 7 THEN 'closed' WHEN i % 10 < 9 THEN 'resolved' ELSE 'queued' END, 'normal', \
                (ARRAY['course_consultation','technical','learning_progress','refund','complaint','course_suggestion', \
                       'resource_request','other'])[1 + (i % 8)], 'zh-CN', \
                ARRAY[(ARRAY['直播','退费','作业','课程','登录','价格','证书','老师','网络','密码'])[1 + (i % 10)], \
                      (ARRAY['进不去','多少钱','批改','报名','卡顿'])[1 + (i % 5)], 'w' || (i % 97)], \
                i % 20 = 0, gen_random_uuid(), ts, ts, \
                CASE WHEN i % 10 < 9 AND i % 7 <> 0 THEN ts + make_interval(secs => (i % 600)) END, \
                CASE WHEN i % 10 < 9 THEN ts + make_interval(secs => 600 + (i % 86400)) END, \
                CASE WHEN i % 25 = 0 THEN 1 ELSE 0 END, \
                (ARRAY['student','parent','teacher','institution'])[1 + (i % 4)], \
                ('00000000-0000-0000-0000-' || lpad((i % 40)::text, 12, '0'))::uuid, \
                CASE WHEN i % 10 < 9 THEN ('00000000-0000-0000-0000-' || lpad((i % 40)::text, 12, '0'))::uuid END, \
                i % 7 = 0, CASE WHEN i % 8 IN (4, 5) THEN ts + interval '48 hours' END \
         FROM (SELECT i, now() - make_interval(secs => i * $2) AS ts FROM generate_series(1, $1::bigint) AS i) g",
    )
    .bind(n)
    .bind(step)
    .execute(&mut conn)
    .await?;
    sqlx::query(
        "INSERT INTO survey (ticket_id, customer_id, requested_at, expires_at, score, answered_at) \
         SELECT id, customer_id, resolved_at, resolved_at + interval '14 days', \
                CASE WHEN r < 0.6 THEN 3 + floor(r * 5)::int % 3 END, CASE WHEN r < 0.6 THEN resolved_at END \
         FROM (SELECT id, customer_id, resolved_at, random() AS r FROM ticket WHERE resolved_at IS NOT NULL) t \
         ON CONFLICT DO NOTHING",
    )
    .execute(&mut conn)
    .await?;
    sqlx::query("VACUUM ANALYZE ticket").execute(&mut conn).await?;
    sqlx::query("VACUUM ANALYZE survey").execute(&mut conn).await?;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM ticket")
        .fetch_one(&mut conn)
        .await?;
    eprintln!(
        "      {total} tickets in {:.0} s; intake builds its rollups...",
        started.elapsed().as_secs_f64()
    );

    // A restart builds the rollups of every day without one.
    stack.service("intake").stop().await?;
    let fresh_before: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT fresh_until FROM report_rollup_state")
            .fetch_optional(&mut conn)
            .await?;
    let rolling = Instant::now();
    stack.service("intake").restart().await?;
    let days: i64 = sqlx::query_scalar("SELECT count(DISTINCT (created_at AT TIME ZONE 'UTC')::date) FROM ticket")
        .fetch_one(&mut conn)
        .await?;
    // Ready when the first pass after the restart (the backfill) has finished: it moves the
    // freshness mark.
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let done: i64 = sqlx::query_scalar("SELECT count(*) FROM report_rollup WHERE dim = 'all' AND hour = -1")
            .fetch_one(&mut conn)
            .await?;
        let fresh: Option<chrono::DateTime<chrono::Utc>> =
            sqlx::query_scalar("SELECT fresh_until FROM report_rollup_state")
                .fetch_optional(&mut conn)
                .await?;
        if done >= days && fresh.is_some() && fresh != fresh_before {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "rollups: {done} of {days} days after 600 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let rollup_secs = rolling.elapsed().as_secs_f64();

    let supervisor = token(Uuid::new_v4(), Role::Supervisor);
    let client = reqwest::Client::new();
    let now = chrono::Utc::now();
    let midnight = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now);
    let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let windows = [
        (
            "last 30 days up to now (partial days at both edges)",
            fmt(now - chrono::Duration::days(30)),
            fmt(now),
        ),
        (
            "30 whole days",
            fmt(midnight - chrono::Duration::days(30)),
            fmt(midnight),
        ),
    ];
    writeln!(
        report,
        "\n## Quality report over {total} tickets (30 days), target ≤ 200 ms\n"
    )?;
    writeln!(
        report,
        "Rollups for {days} days built in {rollup_secs:.1} s after a restart.\n"
    )?;
    writeln!(
        report,
        "| period | group by | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|"
    )?;
    for (label, from, to) in &windows {
        for group in ["all", "channel", "category", "agent", "customer_role"] {
            let url = format!(
                "{}/v1/reports/quality?from={from}&to={to}&group_by={group}",
                stack.url("intake")
            );
            let mut lat = Vec::new();
            for _ in 0..20 {
                let t = Instant::now();
                let res = client.get(&url).bearer_auth(&supervisor).send().await?;
                anyhow::ensure!(res.status() == 200, "report: {}", res.status());
                let _ = res.bytes().await?;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            lat.sort_by(f64::total_cmp);
            writeln!(
                report,
                "| {label} | {group} | {:.1} | {:.1} | {:.1} |",
                pct(&lat, 0.5),
                pct(&lat, 0.99),
                lat.last().copied().unwrap_or(f64::NAN)
            )?;
        }
    }
    // The raw figure: the same figures straight from the tickets in one SQL pass.
    let mut raw = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        sqlx::query(
            "SELECT t.category, count(*), \
               percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t.first_response_at - t.created_at)), \
               percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM t.first_response_at - t.created_at)), \
               count(*) FILTER (WHERE t.first_response_at <= t.created_at + interval '5 minutes'), \
               percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t.resolved_at - t.created_at)), \
               count(t.resolved_at), avg(s.score), count(s.score), count(*) FILTER (WHERE t.deflected), \
               count(*) FILTER (WHERE t.reopen_count > 0) \
             FROM ticket t LEFT JOIN survey s ON s.ticket_id = t.id \
             WHERE t.created_at >= $1 AND t.created_at < $2 GROUP BY 1",
        )
        .bind(now - chrono::Duration::days(30))
        .bind(now)
        .fetch_all(&mut conn)
        .await?;
        raw.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    raw.sort_by(f64::total_cmp);
    writeln!(
        report,
        "| raw: one SQL pass over the tickets (percentile_cont), by category | category | {:.0} | - | {:.0} |",
        pct(&raw, 0.5),
        raw.last().copied().unwrap_or(f64::NAN)
    )?;
    Ok(())
}
