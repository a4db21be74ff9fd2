//! [`Reloading`]: an in-memory copy of what a service reads often and changes rarely (queues
//! and agents, rules and templates, the knowledge-base index), reloaded when older than its
//! time to live, at once after a change through this replica, by one caller at a time, and kept
//! (stale) when a reload fails. While one caller reloads a copy that has only aged, the others
//! go on with it; a copy never loaded or invalidated is waited for.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

/// Loads a new copy; given the current one (if any), it may return it unchanged.
pub type Loader<T, E> = Arc<dyn Fn(Option<Arc<T>>) -> BoxFuture<'static, Result<Arc<T>, E>> + Send + Sync>;

struct Loaded<T> {
    value: Arc<T>,
    /// When the load began; `None` when a change landed while it read (not fresh).
    at: Option<Instant>,
}

struct Inner<T, E> {
    ttl: Duration,
    loader: Loader<T, E>,
    current: RwLock<Option<Loaded<T>>>,
    /// Held by the one caller reloading, so concurrent callers do not all read the source.
    reloading: tokio::sync::Mutex<()>,
    /// Bumped by [`Reloading::invalidate`].
    changes: AtomicU64,
}

/// The shared copy. Cheap to clone.
pub struct Reloading<T, E = anyhow::Error> {
    inner: Arc<Inner<T, E>>,
}

impl<T, E> Clone for Reloading<T, E> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<T: Send + Sync + 'static, E: std::fmt::Display + 'static> Reloading<T, E> {
    /// A copy that `loader` fills, fresh for `ttl`. Nothing is loaded until first asked.
    pub fn new<F>(ttl: Duration, loader: F) -> Self
    where
        F: Fn(Option<Arc<T>>) -> BoxFuture<'static, Result<Arc<T>, E>> + Send + Sync + 'static,
    {
        Self {
            inner: Arc::new(Inner {
                ttl,
                loader: Arc::new(loader),
                current: RwLock::new(None),
                reloading: tokio::sync::Mutex::new(()),
                changes: AtomicU64::new(0),
            }),
        }
    }

    /// What is loaded now, however old, without reading the source.
    pub fn cached(&self) -> Option<Arc<T>> {
        self.inner
            .current
            .read()
            .ok()
            .and_then(|c| c.as_ref().map(|l| l.value.clone()))
    }

    fn fresh(&self) -> Option<Arc<T>> {
        let current = self.inner.current.read().ok()?;
        let loaded = current.as_ref()?;
        loaded
            .at
            .filter(|at| at.elapsed() < self.inner.ttl)
            .map(|_| loaded.value.clone())
    }

    /// A copy that has only aged past the time to live (loaded, not invalidated).
    fn aged(&self) -> Option<Arc<T>> {
        let current = self.inner.current.read().ok()?;
        let loaded = current.as_ref()?;
        loaded.at.map(|_| loaded.value.clone())
    }

    /// The copy, reloaded first when older than the time to live or invalidated. While another
    /// caller reloads a copy that has only aged, that copy is returned at once. When the reload
    /// fails and a copy exists, the stale copy is returned (and the failure logged).
    pub async fn get(&self) -> Result<Arc<T>, E> {
        if let Some(v) = self.fresh() {
            return Ok(v);
        }
        if let Some(aged) = self.aged()
            && self.inner.reloading.try_lock().is_err()
        {
            return Ok(aged);
        }
        let _one = self.inner.reloading.lock().await;
        if let Some(v) = self.fresh() {
            return Ok(v);
        }
        match self.load().await {
            Ok(v) => Ok(v),
            Err(e) => match self.cached() {
                Some(stale) => {
                    tracing::warn!(error = %e, "reload failed; using the last copy");
                    Ok(stale)
                }
                None => Err(e),
            },
        }
    }

    /// Reloads now (after a change through this replica) and returns the new copy.
    pub async fn reload(&self) -> Result<Arc<T>, E> {
        let _one = self.inner.reloading.lock().await;
        self.load().await
    }

    /// Marks the copy as out of date: the next [`get`](Self::get) reloads, and a reload already
    /// under way does not count as fresh.
    pub fn invalidate(&self) {
        self.inner.changes.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut current) = self.inner.current.write()
            && let Some(loaded) = current.as_mut()
        {
            loaded.at = None;
        }
    }

    async fn load(&self) -> Result<Arc<T>, E> {
        let began = Instant::now();
        let changes = self.inner.changes.load(Ordering::SeqCst);
        let value = (self.inner.loader)(self.cached()).await?;
        // Changed while it read: it may have missed that, so the next use reads again.
        let at = (self.inner.changes.load(Ordering::SeqCst) == changes).then_some(began);
        if let Ok(mut current) = self.inner.current.write() {
            *current = Some(Loaded {
                value: value.clone(),
                at,
            });
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    fn counting(ttl: Duration) -> (Reloading<u64>, Arc<AtomicU64>, Arc<AtomicBool>) {
        let loads = Arc::new(AtomicU64::new(0));
        let failing = Arc::new(AtomicBool::new(false));
        let (l, f) = (loads.clone(), failing.clone());
        let cache = Reloading::new(ttl, move |_| {
            let (l, f) = (l.clone(), f.clone());
            Box::pin(async move {
                if f.load(Ordering::SeqCst) {
                    anyhow::bail!("source down");
                }
                Ok(Arc::new(l.fetch_add(1, Ordering::SeqCst) + 1))
            }) as BoxFuture<'static, anyhow::Result<Arc<u64>>>
        });
        (cache, loads, failing)
    }

    #[tokio::test]
    async fn a_fresh_copy_is_served_without_reloading() {
        let (cache, loads, _) = counting(Duration::from_secs(60));
        assert!(cache.cached().is_none());
        assert_eq!(*cache.get().await.expect("load"), 1);
        assert_eq!(*cache.get().await.expect("cached"), 1);
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_load() {
        let (cache, loads, _) = counting(Duration::from_secs(60));
        let all = futures_util::future::join_all((0..8).map(|_| cache.get())).await;
        assert!(all.iter().all(|r| r.as_ref().map(|v| **v).ok() == Some(1)));
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_invalidated_or_expired_copy_is_reloaded() {
        let (cache, _, _) = counting(Duration::from_secs(60));
        assert_eq!(*cache.get().await.expect("load"), 1);
        cache.invalidate();
        assert_eq!(*cache.get().await.expect("reload"), 2);
        assert_eq!(*cache.reload().await.expect("reload now"), 3);

        let (short, _, _) = counting(Duration::ZERO);
        assert_eq!(*short.get().await.expect("load"), 1);
        assert_eq!(*short.get().await.expect("expired"), 2);
    }

    #[tokio::test]
    async fn an_aged_copy_is_served_while_another_caller_reloads_it() {
        let loads = Arc::new(AtomicU64::new(0));
        let l = loads.clone();
        let cache: Reloading<u64> = Reloading::new(Duration::ZERO, move |_| {
            let l = l.clone();
            Box::pin(async move {
                let n = l.fetch_add(1, Ordering::SeqCst) + 1;
                if n > 1 {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Ok(Arc::new(n))
            }) as BoxFuture<'static, anyhow::Result<Arc<u64>>>
        });
        assert_eq!(*cache.get().await.expect("first load"), 1);
        let reloading = tokio::spawn({
            let cache = cache.clone();
            async move { *cache.get().await.expect("reload") }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = std::time::Instant::now();
        assert_eq!(*cache.get().await.expect("aged"), 1, "the aged copy, not a wait");
        assert!(started.elapsed() < Duration::from_millis(200));
        assert_eq!(reloading.await.expect("join"), 2);
        // An invalidated copy is waited for.
        cache.invalidate();
        assert_eq!(*cache.get().await.expect("reload"), 3);
    }

    #[tokio::test]
    async fn a_failed_reload_keeps_the_stale_copy_and_a_first_one_fails() {
        let (cache, _, failing) = counting(Duration::ZERO);
        failing.store(true, Ordering::SeqCst);
        assert!(cache.get().await.is_err());
        failing.store(false, Ordering::SeqCst);
        assert_eq!(*cache.get().await.expect("load"), 1);
        failing.store(true, Ordering::SeqCst);
        assert_eq!(*cache.get().await.expect("stale"), 1);
        assert!(cache.reload().await.is_err());
    }
}
