//! The published knowledge base in memory, for answering new tickets without a search query per
//! ticket: every article's words, and which articles hold each word, per language.
//!
//! Each replica keeps a copy (a [`Reloading`] cache), loaded before the replica reports ready,
//! checked every `kb_cache_secs` for changes to the published articles (one cheap query;
//! reloaded when they changed), and reloaded at once by the replica that changed an article. Other replicas
//! therefore answer from an article at most `kb_cache_secs` after it is published. Matching
//! never waits for the database. Customers' and agents' searches (`GET /v1/kb/search`) still use
//! the full-text index in Postgres.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use contracts::ArticleId;
use futures_util::future::BoxFuture;
use platform::app::Task;
use platform::cache::Reloading;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::domain::classify::Classifier;
use crate::domain::kb;
use crate::store;

/// A published article as matching sees it.
#[derive(Debug, Clone)]
pub struct Article {
    pub id: ArticleId,
    pub title: String,
    pub title_terms: Vec<String>,
    pub terms: Vec<String>,
}

#[derive(Default)]
struct Language {
    articles: Vec<Article>,
    /// Word → positions in `articles`.
    postings: HashMap<String, Vec<u32>>,
}

#[derive(Default)]
struct Snapshot {
    languages: HashMap<String, Language>,
    /// (newest change, published articles) when loaded: a reload is needed only when it moved.
    version: (Option<DateTime<Utc>>, i64),
}

/// The shared copy. Cheap to clone.
#[derive(Clone)]
pub struct KbIndex {
    copy: Reloading<Snapshot, sqlx::Error>,
    every: Duration,
}

/// At most this many articles sharing words with a ticket are scored, most shared words first.
const SCORED: usize = 20;

impl KbIndex {
    pub fn new(pool: PgPool, classifier: Arc<Classifier>, every: Duration) -> Self {
        let copy = Reloading::new(every, move |current: Option<Arc<Snapshot>>| {
            let (pool, classifier) = (pool.clone(), classifier.clone());
            Box::pin(async move {
                let version = store::kb::published_version(&pool).await?;
                if let Some(current) = current.filter(|c| c.version == version) {
                    return Ok(current);
                }
                Ok(Arc::new(load(&pool, &classifier, version).await?))
            }) as BoxFuture<'static, Result<Arc<Snapshot>, sqlx::Error>>
        });
        Self { copy, every }
    }

    /// Reloads the copy if the published articles changed since it was loaded.
    pub async fn refresh(&self) -> Result<(), sqlx::Error> {
        self.copy.reload().await.map(|_| ())
    }

    fn current(&self) -> Arc<Snapshot> {
        self.copy.cached().unwrap_or_default()
    }

    /// The article in `language` that best answers a ticket with `terms`, with its match,
    /// when one reaches `min_confidence`.
    pub fn best(&self, language: &str, terms: &[String], min_confidence: f64) -> Option<(Article, kb::Match)> {
        let snapshot = self.current();
        let lang = snapshot.languages.get(language)?;
        let mut shared: HashMap<u32, usize> = HashMap::new();
        let mut seen = std::collections::HashSet::new();
        for t in terms.iter().filter(|t| seen.insert(t.as_str())) {
            for &i in lang.postings.get(t.as_str()).into_iter().flatten() {
                *shared.entry(i).or_default() += 1;
            }
        }
        let mut ranked: Vec<(u32, usize)> = shared.into_iter().collect();
        ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked
            .into_iter()
            .take(SCORED)
            .map(|(i, _)| &lang.articles[i as usize])
            .map(|a| (a, kb::score(terms, &a.title_terms, &a.terms)))
            .filter(|(_, m)| m.confidence >= min_confidence)
            // The first of equals: most shared words, then the most recently changed.
            .reduce(|best, x| if x.1.confidence > best.1.confidence { x } else { best })
            .map(|(a, m)| (a.clone(), m))
    }
}

/// Reads every published article's words into a new copy.
async fn load(
    pool: &PgPool,
    classifier: &Classifier,
    version: (Option<DateTime<Utc>>, i64),
) -> Result<Snapshot, sqlx::Error> {
    let rows = store::kb::published_terms(pool).await?;
    let mut languages: HashMap<String, Language> = HashMap::new();
    for (id, language, title, terms) in rows {
        let lang = languages.entry(language).or_default();
        let at = u32::try_from(lang.articles.len()).unwrap_or(u32::MAX);
        let title_terms = classifier.terms(&title);
        let mut words: Vec<&String> = terms.iter().chain(&title_terms).collect();
        words.sort_unstable();
        words.dedup();
        for w in words {
            lang.postings.entry(w.clone()).or_default().push(at);
        }
        lang.articles.push(Article {
            id,
            title,
            title_terms,
            terms,
        });
    }
    tracing::info!(
        languages = languages.len(),
        "knowledge base loaded for answering new tickets"
    );
    Ok(Snapshot { languages, version })
}

/// Keeps a replica's copy current: loaded before the replica reports ready, checked every
/// `kb_cache_secs` after.
pub struct KbRefresher(pub KbIndex);

impl Task for KbRefresher {
    fn prepare(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            // Without it new tickets are not answered automatically until the next check; they
            // still open, so a database hiccup here does not stop the replica.
            if let Err(e) = self.0.refresh().await {
                tracing::warn!(error = %e, "knowledge base not loaded for answering yet; will retry");
            }
            Ok(())
        })
    }

    fn run(self: std::sync::Arc<Self>, cancel: CancellationToken) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(self.0.every) => {}
                    _ = cancel.cancelled() => return,
                }
                if let Err(e) = self.0.refresh().await {
                    tracing::warn!(error = %e, "checking the knowledge base for changes failed; will retry");
                }
            }
        })
    }
}
