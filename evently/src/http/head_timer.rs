//! The timer behind the request-head timeout, made cheap for keep-alive.
//!
//! hyper asks its timer for a new sleep each time a connection starts
//! waiting for a request head, and drops it once the head is in: on a
//! keep-alive connection, one sleep per request. tokio's timers are exact,
//! and each costs an insertion into the timer wheel and a removal under its
//! lock, which is a noticeable share of serving a small request. A head
//! timeout needs no such precision. Here a sleep is a deadline; it takes a
//! slot in a table shared by the server's connections only if hyper has to
//! wait for the head, and one thread per server sweeps the table a few times
//! per timeout, waking the sleeps whose deadline has passed. A timeout thus
//! fires at its deadline or up to a quarter of the timeout later.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};

/// The timer a server gives hyper for HTTP/1.1 head reads.
#[derive(Clone)]
pub(crate) struct HeadTimer {
    table: Arc<Table>,
}

/// The sleeps hyper is waiting on, by slot.
#[derive(Default)]
struct Table {
    slots: Mutex<Slots>,
}

#[derive(Default)]
struct Slots {
    waiting: Vec<Option<(Instant, Waker)>>,
    free: Vec<usize>,
}

impl HeadTimer {
    /// A timer for head timeouts of `timeout`, with the thread that sweeps
    /// it. The thread ends once the timer and every sleep it made are gone.
    ///
    /// The sweeper is a thread rather than a task so that the runtime's
    /// timer wheel stays empty: a worker about to park then has no timer to
    /// look at.
    pub(crate) fn start(timeout: Duration) -> Self {
        let table = Arc::new(Table::default());
        let tick = (timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        let swept = Arc::downgrade(&table);
        let sweeper = std::thread::Builder::new()
            .name("evently-head-timer".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(tick);
                    let Some(table) = swept.upgrade() else { return };
                    table.wake_expired(Instant::now());
                }
            });
        if let Err(error) = sweeper {
            // Without it, slow heads are cut off by the OS's TCP timeouts
            // only; the server still serves.
            tracing::error!(error = %error, "the head timeout's thread could not start");
        }
        HeadTimer { table }
    }
}

impl Table {
    fn slots(&self) -> MutexGuard<'_, Slots> {
        // A panic never happens under this lock; recover the data anyway.
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wake_expired(&self, now: Instant) {
        let expired: Vec<Waker> = self
            .slots()
            .waiting
            .iter()
            .flatten()
            .filter(|(deadline, _)| *deadline <= now)
            .map(|(_, waker)| waker.clone())
            .collect();
        // Woken outside the lock; each sleep leaves the table when it is
        // polled ready or dropped.
        for waker in expired {
            waker.wake();
        }
    }

    fn insert(&self, deadline: Instant, waker: Waker) -> usize {
        let mut slots = self.slots();
        let entry = Some((deadline, waker));
        match slots.free.pop() {
            Some(slot) => {
                slots.waiting[slot] = entry;
                slot
            }
            None => {
                slots.waiting.push(entry);
                slots.waiting.len() - 1
            }
        }
    }

    fn replace_waker(&self, slot: usize, waker: Waker) {
        if let Some((_, old)) = &mut self.slots().waiting[slot] {
            *old = waker;
        }
    }

    fn remove(&self, slot: usize) {
        let mut slots = self.slots();
        slots.waiting[slot] = None;
        slots.free.push(slot);
    }
}

impl Timer for HeadTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        self.sleep_until(Instant::now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(HeadSleep {
            deadline,
            table: Arc::clone(&self.table),
            slot: None,
        })
    }
}

/// A deadline that takes a slot in the table only while it is waited on.
struct HeadSleep {
    deadline: Instant,
    table: Arc<Table>,
    /// The slot, and the waker it holds.
    slot: Option<(usize, Waker)>,
}

impl HeadSleep {
    fn leave(&mut self) {
        if let Some((slot, _)) = self.slot.take() {
            self.table.remove(slot);
        }
    }
}

impl Future for HeadSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        // A sleep is made a whole timeout before its deadline, so the clock
        // is only worth reading from the second poll on.
        if this.slot.is_some() && Instant::now() >= this.deadline {
            this.leave();
            return Poll::Ready(());
        }
        match &mut this.slot {
            Some((_, waker)) if waker.will_wake(cx.waker()) => {}
            Some((slot, waker)) => {
                waker.clone_from(cx.waker());
                this.table.replace_waker(*slot, waker.clone());
            }
            None => {
                let slot = this.table.insert(this.deadline, cx.waker().clone());
                this.slot = Some((slot, cx.waker().clone()));
            }
        }
        Poll::Pending
    }
}

impl Drop for HeadSleep {
    fn drop(&mut self) {
        self.leave();
    }
}

impl Sleep for HeadSleep {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sleep_ends_after_its_deadline() {
        let timer = HeadTimer::start(Duration::from_millis(40));
        let started = Instant::now();
        timer.sleep(Duration::from_millis(40)).await;
        assert!(started.elapsed() >= Duration::from_millis(40));
        assert!(timer.table.slots().waiting.iter().all(Option::is_none));
    }

    #[tokio::test]
    async fn a_dropped_sleep_frees_its_slot_for_the_next() {
        let timer = HeadTimer::start(Duration::from_secs(60));
        for _ in 0..3 {
            let mut sleep = timer.sleep(Duration::from_secs(60));
            let waker = futures_util::task::noop_waker();
            let mut cx = Context::from_waker(&waker);
            assert!(sleep.as_mut().poll(&mut cx).is_pending());
            drop(sleep);
        }
        let slots = timer.table.slots();
        assert_eq!(slots.waiting.len(), 1, "the slot is reused");
        assert!(slots.waiting.iter().all(Option::is_none));
    }
}
