//! Idle memory (RSS) of each service, read from `/proc` once the stack has settled.

use std::fmt::Write as _;
use std::time::Duration;

use system_tests::Stack;

/// Waits for the stack to settle, then writes each service's resident set size.
pub async fn run(stack: &Stack, report: &mut String) -> anyhow::Result<()> {
    tokio::time::sleep(Duration::from_secs(3)).await;
    writeln!(
        report,
        "## Idle memory (RSS), target ≤ 30 MB\n\n| service | RSS MB |\n|---|---|"
    )?;
    for s in &stack.services {
        let rss = s.pid().and_then(rss_mb).unwrap_or(f64::NAN);
        writeln!(report, "| {} | {rss:.1} |", s.name)?;
    }
    Ok(())
}

fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
