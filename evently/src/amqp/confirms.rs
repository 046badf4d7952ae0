//! Telling each publish on a shared channel whether RabbitMQ returned it.
//!
//! Publishes to RabbitMQ are mandatory, so a message that no queue is bound
//! for comes back as a `basic.return`, followed by the `basic.ack` that
//! confirms it. lapin hands that returned message to whichever confirmation
//! it resolves next on the channel, and RabbitMQ may confirm several
//! publishes with one ack or confirm them out of order: with many publishes
//! in flight on one channel, a return can arrive with another publish's
//! confirmation. A returned message carries its message id, though, and it
//! always travels with a confirmation resolved no later than its own.
//!
//! So the channel's confirmations are kept in one place, the [`Confirms`]
//! of the channel. Every publish takes a ticket before it is sent and puts
//! its confirmation there once sent; the returned messages' ids are gathered
//! from every resolved confirmation, and a publish is settled only when
//! - every publish ticketed before it was seen resolved has put its
//!   confirmation in (a returned message can only ride on a publish sent
//!   before that moment),
//! - and every confirmation woken before it was seen resolved has been
//!   polled (whatever carried its return was resolved, and woken, earlier).
//!
//! A publish is then "returned" exactly when its own id was among the
//! returned messages, whichever confirmation carried it.
//!
//! No task of its own does this: whichever publish is polled does the work
//! for all of them, under one lock, and wakes the publishes it settled. A
//! confirmation wakes the publish it belongs to, as it would without this
//! module, and only new and woken confirmations are polled, so a publish
//! costs a poll or two however many are in flight.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use lapin::{Confirmation, PublisherConfirm};

/// What the broker made of one publish.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Confirmed, and routed to at least one queue.
    Routed,
    /// Confirmed, but returned: no queue was bound for it.
    Returned,
    /// Refused by the broker.
    Nacked,
    /// The channel failed before the broker answered.
    Failed(String),
}

/// The confirmations of one publishing channel.
#[derive(Clone, Default)]
pub(crate) struct Confirms {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    core: Mutex<Core>,
    /// Tickets of the confirmations woken since they were last polled; apart
    /// from `core`, so that lapin's waking never waits for a sweep.
    woken: Mutex<Vec<u64>>,
}

/// A publish's place in line, taken before it is sent. Dropped unused (the
/// publish failed or was given up), it tells the others not to wait for it.
pub(crate) struct Ticket {
    number: u64,
    confirms: Confirms,
    used: bool,
}

/// The outcome of one publish, once it is settled.
pub(crate) struct Settling {
    ticket: u64,
    confirms: Confirms,
    /// The waker shared with the confirmation's own waker, so that lapin
    /// wakes this publish's task.
    owner: Arc<ConfirmWaker>,
    done: bool,
}

#[derive(Default)]
struct Core {
    issued: u64,
    /// Every ticket below this one was handed over or abandoned.
    complete: u64,
    /// Tickets at or above `complete` handed over or abandoned.
    beyond: BTreeSet<u64>,
    waiting: HashMap<u64, Waiting>,
    /// Tickets to poll because they are new.
    due: Vec<u64>,
    resolved: Vec<Resolved>,
    /// Outcomes settled and not yet taken by their publish.
    settled: HashMap<u64, Outcome>,
    /// Ids of returned messages whose publish is not settled yet.
    returned: HashSet<String>,
}

struct Waiting {
    id: Option<String>,
    confirm: PublisherConfirm,
    waker: Waker,
    owner: Arc<ConfirmWaker>,
}

/// A publish whose confirmation resolved, not settled yet.
struct Resolved {
    ticket: u64,
    id: Option<String>,
    result: Result<Confirmation, String>,
    owner: Arc<ConfirmWaker>,
    /// Tickets issued when it was seen resolved: all of them must have been
    /// handed over before it is settled.
    issued: u64,
}

/// The waker of one confirmation: notes its ticket as woken, then wakes the
/// task of the publish it belongs to.
struct ConfirmWaker {
    ticket: u64,
    shared: std::sync::Weak<Shared>,
    task: Mutex<Option<Waker>>,
    /// Whether the publish still waits for its outcome; read and written
    /// under the core's lock.
    wanted: AtomicBool,
}

impl ConfirmWaker {
    fn wake_task(&self) {
        if let Some(task) = lock(&self.task).as_ref() {
            task.wake_by_ref();
        }
    }

    fn register(&self, waker: &Waker) {
        let mut task = lock(&self.task);
        if !task.as_ref().is_some_and(|t| t.will_wake(waker)) {
            *task = Some(waker.clone());
        }
    }
}

impl Wake for ConfirmWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(shared) = self.shared.upgrade() {
            lock(&shared.woken).push(self.ticket);
        }
        self.wake_task();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Confirms {
    /// Takes a ticket for a publish about to be sent.
    pub(crate) fn ticket(&self) -> Ticket {
        let mut core = lock(&self.shared.core);
        let number = core.issued;
        core.issued += 1;
        Ticket {
            number,
            confirms: self.clone(),
            used: false,
        }
    }

    /// Polls what is new or woken and settles what can be, waking the
    /// publishes settled for other tasks; `current` is the publish being
    /// polled, if any, which needs no waking.
    fn drive(&self, core: &mut Core, current: Option<u64>) {
        loop {
            let mut due = std::mem::take(&mut core.due);
            due.append(&mut lock(&self.shared.woken));
            if due.is_empty() {
                break;
            }
            for ticket in due {
                core.poll_one(ticket);
            }
        }
        core.settle(current);
    }
}

impl Ticket {
    /// Puts in the confirmation of the publish of message `id`; the returned
    /// future gives its outcome.
    pub(crate) fn sent(mut self, id: Option<String>, confirm: PublisherConfirm) -> Settling {
        self.used = true;
        let owner = Arc::new(ConfirmWaker {
            ticket: self.number,
            shared: Arc::downgrade(&self.confirms.shared),
            task: Mutex::new(None),
            wanted: AtomicBool::new(true),
        });
        let waiting = Waiting {
            id,
            confirm,
            waker: Waker::from(Arc::clone(&owner)),
            owner: Arc::clone(&owner),
        };
        {
            let mut core = lock(&self.confirms.shared.core);
            core.waiting.insert(self.number, waiting);
            core.due.push(self.number);
            core.handed_over(self.number);
        }
        Settling {
            ticket: self.number,
            confirms: self.confirms.clone(),
            owner,
            done: false,
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.used {
            let mut core = lock(&self.confirms.shared.core);
            core.handed_over(self.number);
            self.confirms.drive(&mut core, None);
        }
    }
}

impl Future for Settling {
    type Output = Outcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let this = self.get_mut();
        this.owner.register(cx.waker());
        let mut core = lock(&this.confirms.shared.core);
        this.confirms.drive(&mut core, Some(this.ticket));
        match core.settled.remove(&this.ticket) {
            Some(outcome) => {
                this.done = true;
                Poll::Ready(outcome)
            }
            None => Poll::Pending,
        }
    }
}

impl Drop for Settling {
    fn drop(&mut self) {
        // A publish given up on leaves its confirmation in, since it may
        // carry another publish's return; only its outcome is not wanted.
        if !self.done {
            let mut core = lock(&self.confirms.shared.core);
            core.settled.remove(&self.ticket);
            self.owner.wanted.store(false, Ordering::Relaxed);
        }
    }
}

impl Core {
    fn handed_over(&mut self, ticket: u64) {
        // Most publishes are handed over in the order they were ticketed.
        if ticket != self.complete {
            self.beyond.insert(ticket);
            return;
        }
        self.complete += 1;
        while self.beyond.remove(&self.complete) {
            self.complete += 1;
        }
    }

    /// Polls one confirmation, if it still waits.
    ///
    /// lapin wakes a confirmation after resolving it, and resolves the one
    /// that carries a returned message before the returned message's own.
    /// So once a confirmation is seen resolved, whatever carried its return
    /// was either polled already or has its ticket among the woken ones, and
    /// is read before `drive` settles anything.
    fn poll_one(&mut self, ticket: u64) {
        let Some(waiting) = self.waiting.get_mut(&ticket) else {
            return;
        };
        let mut cx = Context::from_waker(&waiting.waker);
        let Poll::Ready(result) = Pin::new(&mut waiting.confirm).poll(&mut cx) else {
            return;
        };
        let Some(Waiting { id, owner, .. }) = self.waiting.remove(&ticket) else {
            return;
        };
        let result = result.map_err(|error| error.to_string());
        // A returned message without an id can only be told by the
        // confirmation lapin put it with; `settle` does that.
        if let Ok(Confirmation::Ack(Some(message)) | Confirmation::Nack(Some(message))) = &result
            && let Some(returned) = message.properties.message_id()
        {
            self.returned.insert(returned.as_str().to_owned());
        }
        self.resolved.push(Resolved {
            ticket,
            id,
            result,
            owner,
            issued: self.issued,
        });
    }

    /// Settles every resolved publish whose predecessors were handed over.
    fn settle(&mut self, current: Option<u64>) {
        let complete = self.complete;
        let mut index = 0;
        while index < self.resolved.len() {
            if self.resolved[index].issued > complete {
                index += 1;
                continue;
            }
            let Resolved {
                ticket,
                id,
                result,
                owner,
                ..
            } = self.resolved.swap_remove(index);
            let returned = match &id {
                Some(id) => self.returned.remove(id),
                None => matches!(
                    result,
                    Ok(Confirmation::Ack(Some(_)) | Confirmation::Nack(Some(_)))
                ),
            };
            let outcome = match result {
                Err(error) => Outcome::Failed(error),
                Ok(Confirmation::Nack(_)) => Outcome::Nacked,
                Ok(_) if returned => Outcome::Returned,
                Ok(_) => Outcome::Routed,
            };
            // Kept only for a publish still waiting for it.
            if owner.wanted.load(Ordering::Relaxed) {
                self.settled.insert(ticket, outcome);
                if current != Some(ticket) {
                    owner.wake_task();
                }
            }
        }
    }
}
