//! A replica's copy of the queues' heads, from which agents' pulls pick their candidates.
//!
//! Reading the heads of every queue is a Redis script walking them and a reply to parse, and
//! agents pull far more often than the heads change. So each replica keeps the heads it last
//! read (best first) and hands each pull the candidates its agent may take, taken out of the
//! copy so the replica's concurrent pulls try different tickets. The Lua take still decides:
//! a ticket another replica took meanwhile is passed over in the same call.
//!
//! The copy is read again when it is older than `max_age` and when this replica queued a
//! ticket (`mark_stale`); a ticket queued through another replica is seen within `max_age`. A
//! pull that finds nothing in the copy for its agent looks at the whole of a read begun after
//! it started (`reserve_since`, one read shared by the pulls waiting for it), so it never
//! answers "nothing waiting" from an old copy or because other pulls hold the candidates.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::adapters::live::{LiveQueues, LiveTicket};

pub struct PullView {
    max_age: Duration,
    depth: isize,
    copy: Mutex<Copy>,
    reading: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Copy {
    /// Waiting tickets, best (lowest score) first.
    tickets: Vec<LiveTicket>,
    /// When the read that produced `tickets` started; `None`: read before the next use.
    read_at: Option<Instant>,
    /// The whole last read (nothing taken out) and when it started, for pulls that must see
    /// every ticket waiting since they began.
    last_read: std::sync::Arc<Vec<LiveTicket>>,
    last_read_at: Option<Instant>,
}

/// Candidates handed to one pull.
pub struct Reserved {
    pub tickets: Vec<LiveTicket>,
    read_at: Instant,
}

impl PullView {
    /// `depth`: tickets per queue each read looks at.
    pub fn new(max_age: Duration, depth: isize) -> Self {
        Self {
            max_age,
            depth: depth.max(1),
            copy: Mutex::new(Copy::default()),
            reading: tokio::sync::Mutex::new(()),
        }
    }

    /// The next use reads the heads again (this replica changed a queue).
    pub fn mark_stale(&self) {
        self.lock().read_at = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Copy> {
        self.copy.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn usable(&self, copy: &Copy) -> Option<Instant> {
        copy.read_at.filter(|at| at.elapsed() <= self.max_age)
    }

    /// [`Self::reserve`] from the copy as it is; `None` when it is too old to use.
    fn take(&self, n: usize, wanted: impl Fn(&LiveTicket) -> bool) -> Option<Reserved> {
        let mut copy = self.lock();
        let read_at = self.usable(&copy)?;
        let mut tickets = Vec::new();
        let mut i = 0;
        while i < copy.tickets.len() && tickets.len() < n {
            if wanted(&copy.tickets[i]) {
                tickets.push(copy.tickets.remove(i));
            } else {
                i += 1;
            }
        }
        Some(Reserved { tickets, read_at })
    }

    /// [`Self::reserve_since`] from the last read as it is; `None` when it began before `since`.
    fn take_since(&self, since: Instant, n: usize, wanted: impl Fn(&LiveTicket) -> bool) -> Option<Reserved> {
        let mut copy = self.lock();
        let read_at = copy.last_read_at.filter(|at| *at >= since)?;
        let tickets: Vec<LiveTicket> = copy.last_read.iter().filter(|t| wanted(t)).take(n).cloned().collect();
        copy.tickets
            .retain(|t| !tickets.iter().any(|x| x.ticket_id == t.ticket_id));
        Some(Reserved { tickets, read_at })
    }

    /// Up to `n` tickets `wanted` accepts, best first, taken out of the copy (read again first
    /// when too old, one read at a time).
    pub async fn reserve(
        &self,
        live: &LiveQueues,
        n: usize,
        wanted: impl Fn(&LiveTicket) -> bool,
    ) -> redis::RedisResult<Reserved> {
        loop {
            if let Some(reserved) = self.take(n, &wanted) {
                return Ok(reserved);
            }
            let _reading = self.reading.lock().await;
            // Someone else may have read while this waited for its turn.
            if self.usable(&self.lock()).is_none() {
                self.read(live).await?;
            }
        }
    }

    /// Up to `n` tickets `wanted` accepts from the whole of a read that started at or after
    /// `since` (made if there is none; concurrent callers share one): empty means nothing
    /// waiting that `wanted` accepts, not that other pulls of this replica hold the candidates.
    /// Those picked are also taken out of the copy.
    pub async fn reserve_since(
        &self,
        live: &LiveQueues,
        since: Instant,
        n: usize,
        wanted: impl Fn(&LiveTicket) -> bool,
    ) -> redis::RedisResult<Reserved> {
        loop {
            if let Some(reserved) = self.take_since(since, n, &wanted) {
                return Ok(reserved);
            }
            let _reading = self.reading.lock().await;
            if self.lock().last_read_at.is_none_or(|at| at < since) {
                self.read(live).await?;
            }
        }
    }

    /// Reads the heads into the copy (the caller holds `reading`).
    async fn read(&self, live: &LiveQueues) -> redis::RedisResult<()> {
        let started = Instant::now();
        let queues = live.queue_names().await?;
        let mut heads = live.heads(&queues, self.depth).await?;
        heads.sort_by(|a, b| a.score.total_cmp(&b.score));
        let mut copy = self.lock();
        copy.last_read = std::sync::Arc::new(heads.clone());
        copy.last_read_at = Some(started);
        copy.tickets = heads;
        copy.read_at = Some(started);
        Ok(())
    }

    /// Candidates a pull did not get to (they may still be waiting) go back in their place,
    /// unless the copy was read again meanwhile (the new read has them if they are).
    pub fn put_back(&self, reserved: Reserved) {
        let mut copy = self.lock();
        if copy.read_at != Some(reserved.read_at) {
            return;
        }
        for t in reserved.tickets {
            if copy.tickets.iter().any(|x| x.ticket_id == t.ticket_id) {
                continue;
            }
            let at = copy.tickets.partition_point(|x| x.score <= t.score);
            copy.tickets.insert(at, t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn ticket(score: f64, channel: &str) -> LiveTicket {
        LiveTicket {
            ticket_id: contracts::TicketId::from(Uuid::new_v4()),
            customer_id: None,
            queue: "general".into(),
            score,
            channel: channel.into(),
            tier: "junior".into(),
            skill: None,
            language: None,
            enqueued_ms: 0,
            tried: Vec::new(),
        }
    }

    fn view_with(tickets: Vec<LiveTicket>, read_at: Instant) -> PullView {
        let view = PullView::new(Duration::from_secs(60), 10);
        *view.lock() = Copy {
            tickets,
            read_at: Some(read_at),
            ..Copy::default()
        };
        view
    }

    fn reserve_now(view: &PullView, n: usize, wanted: impl Fn(&LiveTicket) -> bool) -> Reserved {
        view.take(n, wanted).expect("a fresh copy is used without a read")
    }

    #[test]
    fn pulls_get_disjoint_candidates_and_unused_ones_return_in_order() {
        let now = Instant::now();
        let all: Vec<LiveTicket> = (0..6)
            .map(|i| ticket(f64::from(i), if i % 2 == 0 { "chat" } else { "email" }))
            .collect();
        let view = view_with(all.clone(), now);
        let chat = reserve_now(&view, 2, |t| t.channel == "chat");
        assert_eq!(chat.tickets.iter().map(|t| t.score).collect::<Vec<_>>(), vec![0.0, 2.0]);
        let other = reserve_now(&view, 10, |_| true);
        assert_eq!(
            other.tickets.iter().map(|t| t.score).collect::<Vec<_>>(),
            vec![1.0, 3.0, 4.0, 5.0],
            "what one pull holds is not handed to another"
        );
        view.put_back(chat);
        view.put_back(Reserved {
            tickets: other.tickets[2..].to_vec(),
            read_at: other.read_at,
        });
        let scores: Vec<f64> = view.lock().tickets.iter().map(|t| t.score).collect();
        assert_eq!(scores, vec![0.0, 2.0, 4.0, 5.0], "back in score order");
    }

    #[test]
    fn a_copy_read_again_meanwhile_does_not_take_old_candidates_back() {
        let view = view_with(vec![ticket(1.0, "chat")], Instant::now());
        let held = reserve_now(&view, 1, |_| true);
        view.lock().read_at = Some(Instant::now() + Duration::from_millis(1));
        view.put_back(held);
        assert!(view.lock().tickets.is_empty());
    }

    #[test]
    fn a_pull_finding_nothing_picks_from_the_whole_last_read() {
        let all: Vec<LiveTicket> = (0..3).map(|i| ticket(f64::from(i), "chat")).collect();
        let read_at = Instant::now();
        let view = view_with(all.clone(), read_at);
        {
            let mut copy = view.lock();
            copy.last_read = std::sync::Arc::new(all.clone());
            copy.last_read_at = Some(read_at);
        }
        let held = reserve_now(&view, 10, |_| true);
        assert_eq!(held.tickets.len(), 3);
        assert!(
            reserve_now(&view, 10, |_| true).tickets.is_empty(),
            "the copy is empty for others"
        );
        let whole = view.take_since(read_at, 2, |_| true).expect("a read since then");
        assert_eq!(
            whole.tickets.iter().map(|t| t.score).collect::<Vec<_>>(),
            vec![0.0, 1.0],
            "what other pulls hold is still offered to a pull that found nothing"
        );
        assert!(
            view.take_since(read_at + Duration::from_millis(1), 2, |_| true)
                .is_none(),
            "a read begun before the pull does not count"
        );
    }

    #[test]
    fn old_or_stale_copies_are_not_used() {
        let view = view_with(Vec::new(), Instant::now());
        assert!(view.usable(&view.lock()).is_some());
        view.mark_stale();
        assert!(view.usable(&view.lock()).is_none());
        let old = PullView::new(Duration::from_millis(0), 10);
        old.lock().read_at = Some(Instant::now() - Duration::from_millis(5));
        assert!(old.usable(&old.lock()).is_none(), "older than max_age");
    }
}
