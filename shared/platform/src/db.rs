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

/// Whether `name` can be a role name as settings give it (no quoting needed).
pub fn is_role_name(name: &str) -> bool {
    name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Opens the service's pool, waiting up to `acquire_timeout_ms` for the first connection.
/// With `runtime_role`, each connection acts as that role.
pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<PgPool> {
    connect_as(settings, settings.runtime_role.clone()).await
}

/// A pool of the connecting role itself: for migrations.
pub async fn connect_owner(settings: &DatabaseSettings) -> anyhow::Result<PgPool> {
    connect_as(settings, None).await
}

async fn connect_as(settings: &DatabaseSettings, role: Option<String>) -> anyhow::Result<PgPool> {
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
    if let Some(r) = &role {
        anyhow::ensure!(
            is_role_name(r),
            "configuration key `database.runtime_role`: `{r}` is not a role name"
        );
    }
    let pool = PgPoolOptions::new()
        .after_connect(move |conn, _meta| {
            let role = role.clone();
            Box::pin(async move {
                if let Some(role) = role {
                    // The name is checked above: letters, digits and _ only.
                    sqlx::Executor::execute(&mut *conn, format!("SET ROLE {role}").as_str()).await?;
                }
                Ok(())
            })
        })
        .max_connections(settings.max_connections)
        // Kept open from start-up (and after idle periods): at most the pool's size.
        .min_connections(settings.min_connections.min(settings.max_connections))
        .acquire_timeout(Duration::from_millis(settings.acquire_timeout_ms))
        .connect_with(options)
        .await?;
    Ok(pool)
}

/// Applies the platform's and then the service's migrations as the connecting (owner) role,
/// under one advisory lock, so any number of replicas can start at once.
pub async fn migrate_with(settings: &DatabaseSettings, service: &Migrator) -> anyhow::Result<()> {
    let owner = connect_owner(settings).await?;
    let result = migrate(&owner, service).await;
    owner.close().await;
    result
}

/// Applies the platform's and then the service's migrations on `pool`, under one advisory
/// lock.
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
