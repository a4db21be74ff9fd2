//! The command line every service binary shares: `serve` (the default), `migrate` and
//! `healthcheck`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde::de::DeserializeOwned;

use crate::app::ServiceSpec;
use crate::config::{Settings, Validate};

#[derive(Parser)]
#[command(
    version,
    about = "An edu-support service. Configuration: config/default.toml, then $CONFIG_FILE, then <PREFIX>__SECTION__KEY environment variables."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Exit 0 when the local service answers /healthz (for container health checks).
    Healthcheck,
}

/// Parses the command line and runs the service; the whole of a service's `main`.
pub fn main<S: DeserializeOwned + Validate + Send + 'static>(spec: &'static ServiceSpec<S>) -> ExitCode {
    let cli = Cli::parse();
    let settings: Settings<S> = match crate::config::load(spec.env_prefix, spec.defaults, spec.list_keys) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{}: {e}", spec.name);
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{}: cannot start the runtime: {e}", spec.name);
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => {
                let _telemetry = crate::telemetry::init(spec.name, &settings.telemetry)?;
                let app = (spec.build)(settings).await?;
                app.run_until_stopped().await
            }
            Command::Migrate => {
                crate::db::migrate_with(&settings.database, spec.migrations).await?;
                eprintln!("{}: migrations applied", spec.name);
                Ok(())
            }
            Command::Healthcheck => {
                let url = format!("http://127.0.0.1:{}/healthz", settings.http.port);
                let res = reqwest::Client::new()
                    .get(&url)
                    .timeout(std::time::Duration::from_secs(3))
                    .send()
                    .await?;
                anyhow::ensure!(res.status().is_success(), "{url} answered {}", res.status());
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}: {e:#}", spec.name);
            tracing::error!(error = %format!("{e:#}"), "exiting");
            ExitCode::FAILURE
        }
    }
}
