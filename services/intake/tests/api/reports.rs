//! Quality reports.

use platform::auth::Role;
use serde_json::{Value, json};
use testkit::problem_fields;
use uuid::Uuid;

use super::{app, open, open_new, walk};

#[tokio::test]
async fn the_quality_report_computes_each_figure_per_group_for_supervisors_only() {
    let app = app().await;
    let agent_id = Uuid::new_v4();
    let agent = app.token(agent_id, Role::Agent);
    let me = app.token(Uuid::new_v4(), Role::Customer);
    let a = open(&app, &me, "作业批改", "老师什么时候批改作业？").await;
    let b = open_new(&app, "课程价格", "雅思课程多少钱？").await;
    let a_id = a["id"].as_str().expect("id");
    walk(&app, &agent, a_id, &["start"]).await;
    let body = json!({"body": "明天批改完"});
    let (status, _) = app
        .post_json(&format!("/v1/tickets/{a_id}/messages"), &agent, &body)
        .await;
    assert_eq!(status, 201);
    walk(&app, &agent, a_id, &["resolve"]).await;
    // Ticket b was answered 10 minutes after it was opened (its creation time stays put: the
    // hourly rollups already vouch for the past).
    sqlx::query("UPDATE ticket SET first_response_at = created_at + interval '10 minutes' WHERE id = $1::uuid")
        .bind(b["id"].as_str().expect("id"))
        .execute(&app.platform.pool)
        .await
        .expect("age");
    let token: String = sqlx::query_scalar(
        "SELECT envelope->'data'->>'token' FROM outbox_event WHERE event_type = 'intake.survey.requested'",
    )
    .fetch_one(&app.platform.pool)
    .await
    .expect("token");
    let res = app
        .client
        .post(format!("{}/v1/surveys/{token}", app.url))
        .json(&json!({"score": 4}))
        .send()
        .await
        .expect("survey");
    assert_eq!(res.status(), 201);

    let supervisor = app.token(Uuid::new_v4(), Role::Supervisor);
    let now = chrono::Utc::now();
    let window = format!(
        "from={}&to={}",
        (now - chrono::Duration::hours(2)).format("%Y-%m-%dT%H:%M:%SZ"),
        (now + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ")
    );
    let report: Value = app
        .get_json(&format!("/v1/reports/quality?group_by=category&{window}"), &supervisor)
        .await;
    let groups = report["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 2, "{report}");
    let progress = groups
        .iter()
        .find(|g| g["key"] == "learning_progress")
        .expect("learning_progress");
    assert_eq!(progress["volume"], 1);
    assert_eq!(progress["resolution_rate"], 1.0);
    assert_eq!(progress["answered_within_5_min"], 1.0);
    assert_eq!(progress["csat_average"], 4.0);
    assert_eq!(progress["csat_response_rate"], 1.0);
    let consult = groups
        .iter()
        .find(|g| g["key"] == "course_consultation")
        .expect("consultation");
    assert_eq!(consult["answered_within_5_min"], 0.0);
    assert!(consult["first_response_p50_secs"].as_f64().is_some_and(|s| s > 590.0));
    assert!(report["top_keywords"].as_array().is_some_and(|k| !k.is_empty()));

    let by_agent: Value = app
        .get_json(&format!("/v1/reports/quality?group_by=agent&{window}"), &supervisor)
        .await;
    assert!(
        by_agent["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .any(|g| g["key"] == agent_id.to_string())
    );
    let overall: Value = app
        .get_json(&format!("/v1/reports/quality?{window}"), &supervisor)
        .await;
    assert_eq!(overall["groups"][0]["volume"], 2);
    assert_eq!(overall["groups"][0]["resolution_rate"], 0.5);

    assert_eq!(app.get_status("/v1/reports/quality", &agent).await.0, 403);
    let (status, problem) = app
        .get_status(
            "/v1/reports/quality?group_by=planet&from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            &supervisor,
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(problem_fields(&problem), ["from", "group_by"]);
}

#[tokio::test]
async fn whole_days_come_from_rollups_that_follow_late_changes() {
    let app = app().await;
    let me = app.token(Uuid::new_v4(), Role::Customer);
    let agent = app.token(Uuid::new_v4(), Role::Agent);
    let t = open(&app, &me, "作业批改", "老师什么时候批改上周的作业？").await;
    let id = t["id"].as_str().expect("id").to_owned();
    // The ticket was opened three days ago.
    sqlx::query("UPDATE ticket SET created_at = created_at - interval '3 days' WHERE id = $1::uuid")
        .bind(&id)
        .execute(&app.platform.pool)
        .await
        .expect("age");
    let rollups = intake::core::reports::Rollups {
        pool: app.platform.pool.clone(),
        clock: app.platform.clock.clone(),
        interval: std::time::Duration::from_secs(60),
    };
    // The service's own refresher may hold the lock (or take the stale day) for a moment.
    let refreshed = testkit::eventually(10, "a pass", || async {
        Ok(Some(rollups.pass(false).await?).filter(|n| *n > 0))
    })
    .await
    .expect("pass");
    assert!(refreshed >= 2, "today and yesterday at least");
    let day = (chrono::Utc::now() - chrono::Duration::days(3)).date_naive();
    let whole = format!("from={day}T00:00:00Z&to={}T00:00:00Z", day + chrono::Duration::days(1));
    let supervisor = app.token(Uuid::new_v4(), Role::Supervisor);
    let report = |q: String| {
        let app = &app;
        let supervisor = supervisor.clone();
        async move { app.get_json(&format!("/v1/reports/quality?{q}"), &supervisor).await }
    };
    let before = report(whole.clone()).await;
    assert_eq!(before["groups"][0]["volume"], 1, "{before}");
    assert_eq!(before["groups"][0]["resolution_rate"], 0.0);

    // Resolved today: the old day is logged stale and the next pass brings it up to date.
    walk(&app, &agent, &id, &["start", "resolve"]).await;
    let stale = app.count("SELECT count(*) FROM report_stale_day").await;
    assert!(stale >= 1);
    testkit::eventually(10, "a pass", || async {
        Ok(Some(rollups.pass(false).await?).filter(|n| *n > 0))
    })
    .await
    .expect("pass");
    let after = report(whole).await;
    assert_eq!(after["groups"][0]["resolution_rate"], 1.0, "{after}");
    let rolled: i64 = sqlx::query_scalar("SELECT count(*) FROM report_rollup WHERE day = $1 AND hour = -1")
        .bind(day)
        .fetch_one(&app.platform.pool)
        .await
        .expect("rows");
    assert_eq!(rolled, 5, "one row per dimension for the one ticket");
}
