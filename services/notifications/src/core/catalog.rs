//! Rules, templates and webhook endpoints, cached per replica and reloaded on change.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use platform::cache::Reloading;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::render::Renderer;
use crate::domain::rules::{self, Rule};
use crate::store::endpoints::{self, Endpoint};
use crate::store::{rules as rule_store, templates};

/// One consistent view of the configuration.
pub struct Snapshot {
    pub rules: HashMap<String, Vec<Rule>>,
    pub renderer: Renderer,
    pub endpoints: Vec<Endpoint>,
}

impl Snapshot {
    /// The enabled rules for `event_type`.
    pub fn rules_for(&self, event_type: &str) -> &[Rule] {
        self.rules.get(event_type).map(Vec::as_slice).unwrap_or_default()
    }

    /// Enabled endpoints subscribed to `event_type`.
    pub fn endpoints_for<'a>(&'a self, event_type: &'a str) -> impl Iterator<Item = &'a Endpoint> + 'a {
        self.endpoints
            .iter()
            .filter(move |e| e.enabled && rules::subscribed(&e.event_types, event_type))
    }

    pub fn endpoint(&self, id: Uuid) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.id == id)
    }
}

/// The current [`Snapshot`], reloaded when older than `service.catalog_refresh_ms` and at once
/// after a write through the API. A stale view beats none while the database hiccups.
#[derive(Clone)]
pub struct Catalog(Reloading<Snapshot>);

impl Catalog {
    /// Templates fall back to `default_locale`.
    pub fn new(pool: PgPool, refresh: Duration, default_locale: String) -> Self {
        Self(Reloading::new(refresh, move |_| {
            let (pool, locale) = (pool.clone(), default_locale.clone());
            Box::pin(async move { load(&pool, &locale).await.map(Arc::new) }) as BoxFuture<'static, _>
        }))
    }

    /// The current snapshot, reloaded when older than the refresh interval.
    pub async fn get(&self) -> anyhow::Result<Arc<Snapshot>> {
        self.0.get().await
    }

    /// Reloads now (after a write through the API).
    pub async fn reload(&self) -> anyhow::Result<Arc<Snapshot>> {
        self.0.reload().await
    }
}

async fn load(pool: &PgPool, default_locale: &str) -> anyhow::Result<Snapshot> {
    let (rule_rows, templates, endpoints) = tokio::try_join!(
        rule_store::rules(pool),
        templates::latest_templates(pool),
        endpoints::endpoints(pool),
    )?;
    let mut rules: HashMap<String, Vec<Rule>> = HashMap::new();
    for r in rule_rows.into_iter().filter(|r| r.enabled) {
        rules.entry(r.event_type.clone()).or_default().push(r);
    }
    Ok(Snapshot {
        rules,
        renderer: Renderer::new(&templates, default_locale),
        endpoints,
    })
}
