//! Group commit for request paths: the writes of concurrent requests gathered into one statement
//! and one commit.
//!
//! A [`Batcher`] takes items from any number of callers. Its loop waits for the first, takes
//! whatever else is already waiting (up to `max`), and hands the lot to the batch function, which
//! returns one result per item, in order. At most `in_flight` batches run at once; while they all
//! run, new items gather for the next. An idle batcher writes a lone item at once, so a quiet
//! service pays no added latency; a busy one pays one commit per batch instead of per request.
//!
//! The batch function decides what a failure means: typically it writes the items one by one
//! when the batch statement fails ([`one_by_one_on_failure`]), so one bad item fails alone.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

/// The batch an item was in ended without an answer for it (its task panicked, or the batcher
/// stopped). Whether the item was written is unknown.
#[derive(Debug, thiserror::Error)]
#[error("the batch writing this item ended without an answer")]
pub struct BatchLost;

impl From<BatchLost> for crate::ApiError {
    fn from(e: BatchLost) -> Self {
        crate::ApiError::internal(e)
    }
}

type Slot<I, O, E> = (I, oneshot::Sender<Result<O, E>>);

/// Gathers items from concurrent callers into batches. Cheap to clone.
pub struct Batcher<I, O, E> {
    tx: mpsc::Sender<Slot<I, O, E>>,
}

impl<I, O, E> Clone for Batcher<I, O, E> {
    fn clone(&self) -> Self {
        Self { tx: self.tx.clone() }
    }
}

impl<I, O, E> Batcher<I, O, E>
where
    I: Send + 'static,
    O: Send + 'static,
    E: From<BatchLost> + Send + 'static,
{
    /// Starts the batcher's loop on the current runtime. `run` gets at most `max` items and
    /// returns one result per item, in order; at most `in_flight` runs at once. The loop ends
    /// when every handle is dropped.
    pub fn spawn<F, Fut>(max: usize, in_flight: usize, run: F) -> Self
    where
        F: Fn(Vec<I>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<Result<O, E>>> + Send + 'static,
    {
        let max = max.max(1);
        let (tx, mut rx) = mpsc::channel::<Slot<I, O, E>>(max * in_flight.max(1) * 4);
        let run = Arc::new(run);
        let permits = Arc::new(Semaphore::new(in_flight.max(1)));
        tokio::spawn(async move {
            loop {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return;
                };
                let mut slots = Vec::with_capacity(max);
                if rx.recv_many(&mut slots, max).await == 0 {
                    return;
                }
                let run = run.clone();
                tokio::spawn(async move {
                    let (items, replies): (Vec<I>, Vec<_>) = slots.into_iter().unzip();
                    let results = run(items).await;
                    // A missing result drops its reply: that caller gets `BatchLost`.
                    for (reply, result) in replies.into_iter().zip(results) {
                        let _ = reply.send(result);
                    }
                    drop(permit);
                });
            }
        });
        Self { tx }
    }

    /// Hands `item` to the next batch and waits for its result.
    pub async fn submit(&self, item: I) -> Result<O, E> {
        let (reply, answer) = oneshot::channel();
        self.tx.send((item, reply)).await.map_err(|_| BatchLost)?;
        answer.await.map_err(|_| BatchLost)?
    }
}

/// Writes `items` with `write` (one output per item, in order); when that fails and there is
/// more than one item, writes each alone, so an item that cannot be written fails alone and the
/// others still get theirs. An output missing from `write`'s answer is reported as [`BatchLost`].
pub async fn one_by_one_on_failure<'a, I, O, E, F, Fut>(items: &'a [I], write: F) -> Vec<Result<O, E>>
where
    E: From<BatchLost> + std::fmt::Display,
    F: Fn(&'a [I]) -> Fut,
    Fut: Future<Output = Result<Vec<O>, E>>,
{
    match write(items).await {
        Ok(outputs) => outputs.into_iter().map(Ok).collect(),
        Err(e) if items.len() <= 1 => vec![Err(e)],
        Err(e) => {
            tracing::warn!(error = %e, items = items.len(), "writing a batch together failed; writing its items one by one");
            let mut results = Vec::with_capacity(items.len());
            for item in items {
                let one = write(std::slice::from_ref(item)).await;
                results.push(one.and_then(|outputs| outputs.into_iter().next().ok_or_else(|| BatchLost.into())));
            }
            results
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Debug, PartialEq)]
    enum Failure {
        Refused(u32),
        Lost,
    }

    impl std::fmt::Display for Failure {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{self:?}")
        }
    }

    impl From<BatchLost> for Failure {
        fn from(_: BatchLost) -> Self {
            Failure::Lost
        }
    }

    #[tokio::test]
    async fn concurrent_items_share_batches_and_each_gets_its_own_result() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let seen = sizes.clone();
        let batcher: Batcher<u32, u32, Failure> = Batcher::spawn(16, 1, move |items: Vec<u32>| {
            seen.lock().expect("sizes").push(items.len());
            async move {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                items
                    .into_iter()
                    .map(|i| {
                        if i % 7 == 0 {
                            Err(Failure::Refused(i))
                        } else {
                            Ok(i * 2)
                        }
                    })
                    .collect()
            }
        });
        let calls: Vec<_> = (1..=100u32)
            .map(|i| {
                let b = batcher.clone();
                tokio::spawn(async move { (i, b.submit(i).await) })
            })
            .collect();
        for call in calls {
            let (i, result) = call.await.expect("call");
            if i % 7 == 0 {
                assert_eq!(result, Err(Failure::Refused(i)));
            } else {
                assert_eq!(result, Ok(i * 2));
            }
        }
        let sizes = sizes.lock().expect("sizes");
        assert_eq!(sizes.iter().sum::<usize>(), 100);
        assert!(sizes.iter().all(|n| *n <= 16), "{sizes:?}");
        assert!(sizes.len() < 100, "items were not gathered: {sizes:?}");
    }

    #[tokio::test]
    async fn after_a_failed_batch_each_item_is_written_alone() {
        let calls = Mutex::new(Vec::new());
        let results = one_by_one_on_failure(&[1u32, 7, 3], |items| {
            calls.lock().expect("calls").push(items.len());
            let items = items.to_vec();
            async move {
                if items.contains(&7) {
                    Err(Failure::Refused(7))
                } else {
                    Ok(items.iter().map(|i| i * 2).collect())
                }
            }
        })
        .await;
        assert_eq!(results, vec![Ok(2), Err(Failure::Refused(7)), Ok(6)]);
        assert_eq!(*calls.lock().expect("calls"), vec![3, 1, 1, 1]);
    }

    #[tokio::test]
    async fn an_item_without_a_result_is_reported_lost() {
        let batcher: Batcher<u32, u32, Failure> = Batcher::spawn(4, 2, |items: Vec<u32>| async move {
            items.into_iter().skip(1).map(Ok).collect()
        });
        assert_eq!(batcher.submit(1).await, Err(Failure::Lost));
    }
}
