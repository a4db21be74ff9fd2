use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::future::BoxFuture;
use platform::Tx;
use platform::jobs::{Job, JobHandler, NewJob};

use crate::helpers::{count, platform};

struct Counter {
    runs: Arc<AtomicUsize>,
    fail: bool,
}

impl JobHandler for Counter {
    fn run<'a>(&'a self, tx: &'a mut Tx, job: &'a Job) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            self.runs.fetch_add(1, Ordering::SeqCst);
            sqlx::query("INSERT INTO job_effect (job_id) VALUES ($1)")
                .bind(job.id)
                .execute(&mut **tx)
                .await?;
            anyhow::ensure!(!self.fail, "reminder provider down");
            Ok(())
        })
    }
}

async fn setup(fail: bool) -> (crate::helpers::TestPlatform, platform::jobs::Jobs, Arc<AtomicUsize>) {
    setup_with(fail, &[("JOBS__MAX_ATTEMPTS", "3")]).await
}

/// A platform with `settings`, a `job_effect` table and a `remind` job counting its runs.
async fn setup_with(
    fail: bool,
    settings: &[(&str, &str)],
) -> (crate::helpers::TestPlatform, platform::jobs::Jobs, Arc<AtomicUsize>) {
    let t = platform("jobs", settings).await;
    sqlx::query("CREATE TABLE job_effect (job_id UUID NOT NULL)")
        .execute(&t.platform.pool)
        .await
        .expect("table");
    let runs = Arc::new(AtomicUsize::new(0));
    let jobs = t.platform.jobs.clone().with_handler(
        "remind",
        Counter {
            runs: runs.clone(),
            fail,
        },
    );
    (t, jobs, runs)
}

fn job(key: &str, due_in_secs: i64) -> NewJob<'_, serde_json::Value> {
    static PAYLOAD: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    NewJob {
        kind: "remind",
        dedupe_key: Some(key),
        payload: PAYLOAD.get_or_init(|| serde_json::json!({"class": "math-101"})),
        due_at: chrono::Utc::now() + chrono::Duration::seconds(due_in_secs),
        max_attempts: None,
    }
}

#[tokio::test]
async fn a_due_job_runs_once_even_with_two_runners() {
    let (t, jobs, runs) = setup(false).await;
    let pool = &t.platform.pool;
    for i in 0..20 {
        jobs.schedule(pool, job(&format!("k{i}"), 0)).await.expect("schedule");
    }
    assert!(
        jobs.schedule(pool, job("k0", 0)).await.expect("again").is_none(),
        "same key: no second job"
    );
    jobs.schedule(pool, job("later", 3600)).await.expect("schedule");
    let (a, b) = tokio::join!(jobs.run_due(), jobs.run_due());
    assert_eq!(a.expect("a") + b.expect("b"), 20);
    assert_eq!(runs.load(Ordering::SeqCst), 20);
    assert_eq!(count(pool, "SELECT count(*) FROM job_effect").await, 20);
    assert_eq!(
        count(pool, "SELECT count(*) FROM scheduled_job WHERE status = 'done'").await,
        20
    );
    assert_eq!(jobs.run_due().await.expect("again"), 0, "the later job is not due");
}

#[tokio::test]
async fn a_cancelled_job_does_not_run() {
    let (t, jobs, runs) = setup(false).await;
    let pool = &t.platform.pool;
    jobs.schedule(pool, job("c", 0)).await.expect("schedule");
    assert!(jobs.cancel(pool, "remind", "c").await.expect("cancel"));
    assert!(!jobs.cancel(pool, "remind", "c").await.expect("cancel twice"));
    assert_eq!(jobs.run_due().await.expect("run"), 0);
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_failing_job_is_retried_then_marked_failed_with_no_effect() {
    let (t, jobs, runs) = setup(true).await;
    let pool = &t.platform.pool;
    jobs.schedule(pool, job("f", 0)).await.expect("schedule");
    testkit::eventually(10, "three attempts", || async {
        jobs.run_due().await?;
        Ok((runs.load(Ordering::SeqCst) >= 3).then_some(()))
    })
    .await
    .expect("attempts");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(jobs.run_due().await.expect("run"), 0, "no fourth attempt");
    let (status, attempts, error): (String, i32, Option<String>) =
        sqlx::query_as("SELECT status, attempts, last_error FROM scheduled_job")
            .fetch_one(pool)
            .await
            .expect("row");
    assert_eq!((status.as_str(), attempts), ("failed", 3));
    assert!(error.is_some_and(|e| e.contains("provider down")));
    assert_eq!(
        count(pool, "SELECT count(*) FROM job_effect").await,
        0,
        "each failed attempt rolled back"
    );
}

#[tokio::test]
async fn on_a_manual_clock_a_job_a_week_away_runs_when_the_clock_gets_there_without_waiting() {
    let (t, jobs, runs) = setup_with(false, &[("CLOCK__MODE", "manual")]).await;
    let clock = t.platform.clock.clone();
    let week = chrono::Duration::days(7);
    jobs.schedule(
        &t.platform.pool,
        NewJob {
            kind: "remind",
            dedupe_key: Some("cooling-off"),
            payload: &serde_json::json!({}),
            due_at: clock.now() + week,
            max_attempts: None,
        },
    )
    .await
    .expect("schedule");
    assert_eq!(jobs.run_due().await.expect("run"), 0, "not due yet");
    clock.advance(week - chrono::Duration::seconds(1)).expect("advance");
    assert_eq!(jobs.run_due().await.expect("run"), 0, "a second early");
    clock.advance(chrono::Duration::seconds(1)).expect("advance");
    assert_eq!(jobs.run_due().await.expect("run"), 1, "due now");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}
