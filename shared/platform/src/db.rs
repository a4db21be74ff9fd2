//! PostgreSQL: the pool and the embedded migrations (the platform's tables, then the service's).

use std::borrow::Cow;
use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};

use crate::config::DatabaseSettings;

/// A transaction on this service's database.
pub type Tx = sqlx::Transaction<'static, Postgres>;

/// The platform's own tables (outbox, processed events, jobs, idempotency keys). Their
/// versions are small integers; services number theirs by date, so the two never collide.
pub static PLATFORM_MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// Opens the pool, waiting up to `acquire_timeout_ms` for the first connection.
pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<PgPool> {
    let mut options: PgConnectOptions = settings
        .url
        .expose_secret()
        .parse()
        .map_err(|e| anyhow::anyhow!("configuration key `database.url`: {e}"))?;
    // A hung statement or a transaction left open (waiting on another system) must not hold
    // its locks for ever.
    options = options.options([
        ("statement_timeout", format!("{}ms", settings.statement_timeout_ms)),
        (
            "idle_in_transaction_session_timeout",
            format!("{}ms", settings.idle_in_transaction_timeout_ms),
        ),
    ]);
    let pool = PgPoolOptions::new()
        .max_connections(settings.max_connections)
        // Kept open from start-up (and after idle periods): at most the pool's size.
        .min_connections(settings.min_connections.min(settings.max_connections))
        .acquire_timeout(Duration::from_millis(settings.acquire_timeout_ms))
        .connect_with(options)
        .await?;
    Ok(pool)
}

/// Applies the platform's and then the service's migrations, under one advisory lock, so any
/// number of replicas can start at once.
pub async fn migrate(pool: &PgPool, service: &Migrator) -> anyhow::Result<()> {
    let mut all: Vec<_> = PLATFORM_MIGRATIONS.migrations.iter().cloned().collect();
    all.extend(service.migrations.iter().cloned());
    all.sort_by_key(|m| m.version);
    let migrator = Migrator {
        migrations: Cow::Owned(all),
        ..Migrator::DEFAULT
    };
    migrator.run(pool).await?;
    Ok(())
}
