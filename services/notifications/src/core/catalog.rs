//! Rules, templates and webhook endpoints, cached per replica and reloaded on change.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::NotificationSettings;
use crate::domain::render::Renderer;
use crate::domain::rules::{self, Rule};
use crate::store::{self, Endpoint};

/// One consistent view of the configuration.
pub struct Snapshot {
    pub rules: HashMap<String, Vec<Rule>>,
    pub renderer: Renderer,
    pub endpoints: Vec<Endpoint>,
    loaded: Instant,
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

    pub fn endpoint(&self, id: uuid::Uuid) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.id == id)
    }
}

#[derive(Clone)]
pub struct Catalog {
    pool: PgPool,
    settings: Arc<NotificationSettings>,
    current: Arc<RwLock<Option<Arc<Snapshot>>>>,
    reloading: Arc<tokio::sync::Mutex<()>>,
}

impl Catalog {
    pub fn new(pool: PgPool, settings: Arc<NotificationSettings>) -> Self {
        Self {
            pool,
            settings,
            current: Arc::new(RwLock::new(None)),
            reloading: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    fn cached(&self) -> Option<Arc<Snapshot>> {
        self.current.read().ok().and_then(|g| g.clone())
    }

    /// The current snapshot, reloaded when older than `catalog_refresh_ms`.
    pub async fn get(&self) -> anyhow::Result<Arc<Snapshot>> {
        let ttl = Duration::from_millis(self.settings.catalog_refresh_ms);
        if let Some(s) = self.cached()
            && s.loaded.elapsed() < ttl
        {
            return Ok(s);
        }
        let _one = self.reloading.lock().await;
        if let Some(s) = self.cached()
            && s.loaded.elapsed() < ttl
        {
            return Ok(s);
        }
        match self.load().await {
            Ok(s) => Ok(s),
            // A stale view beats none while the database hiccups.
            Err(e) => match self.cached() {
                Some(s) => {
                    tracing::warn!(error = %format!("{e:#}"), "catalog reload failed; using the last one");
                    Ok(s)
                }
                None => Err(e),
            },
        }
    }

    /// Reloads now (after a write through the API).
    pub async fn reload(&self) -> anyhow::Result<Arc<Snapshot>> {
        let _one = self.reloading.lock().await;
        self.load().await
    }

    async fn load(&self) -> anyhow::Result<Arc<Snapshot>> {
        let (rule_rows, templates, endpoints) = tokio::try_join!(
            store::rules(&self.pool),
            store::latest_templates(&self.pool),
            store::endpoints(&self.pool),
        )?;
        let mut rules: HashMap<String, Vec<Rule>> = HashMap::new();
        for r in rule_rows.into_iter().filter(|r| r.enabled) {
            rules.entry(r.event_type.clone()).or_default().push(r);
        }
        let snapshot = Arc::new(Snapshot {
            rules,
            renderer: Renderer::new(&templates, &self.settings.default_locale),
            endpoints,
            loaded: Instant::now(),
        });
        if let Ok(mut g) = self.current.write() {
            *g = Some(snapshot.clone());
        }
        Ok(snapshot)
    }
}
