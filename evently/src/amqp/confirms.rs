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
//! So confirmations are collected in one place. Every publish takes a ticket
//! before it is sent and hands its confirmation over once sent; the collector
//! gathers the returned messages' ids from every resolved confirmation and
//! settles a publish only when
//! - every publish ticketed before it was seen resolved has been handed over
//!   (a returned message can only ride on a publish sent before that moment),
//! - and every confirmation woken before it was seen resolved has been
//!   polled (whatever carried its return was resolved, and woken, earlier).
//!
//! Only new and woken confirmations are polled, so a publish costs the
//! collector a poll or two however many are in flight.
//!
//! A publish is then "returned" exactly when its own id was among the
//! returned messages, whichever confirmation carried it.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use lapin::{Confirmation, PublisherConfirm};
use tokio::sync::{mpsc, oneshot};

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

enum Event {
    Sent {
        ticket: u64,
        id: Option<String>,
        confirm: PublisherConfirm,
        reply: oneshot::Sender<Outcome>,
    },
    Abandoned {
        ticket: u64,
    },
}

/// The collector of one publishing channel's confirmations.
pub(crate) struct Confirms {
    events: mpsc::UnboundedSender<Event>,
    issued: Arc<AtomicU64>,
}

/// A publish's place in line, taken before it is sent. Dropped unused (the
/// publish failed or was given up), it tells the collector not to wait for
/// it.
pub(crate) struct Ticket {
    number: u64,
    events: mpsc::UnboundedSender<Event>,
    used: bool,
}

impl Confirms {
    /// Starts the collector; it ends once the `Confirms` and every ticket are
    /// gone and the last confirmation was settled.
    pub(crate) fn start() -> Self {
        let (events, receiver) = mpsc::unbounded_channel();
        let issued = Arc::new(AtomicU64::new(0));
        tokio::spawn(Collector::new(receiver, Arc::clone(&issued)));
        Confirms { events, issued }
    }

    /// Takes a ticket for a publish about to be sent.
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket {
            number: self.issued.fetch_add(1, Ordering::SeqCst),
            events: self.events.clone(),
            used: false,
        }
    }
}

impl Ticket {
    /// Hands over the confirmation of the publish of message `id`; the
    /// receiver gets its outcome.
    pub(crate) fn sent(
        mut self,
        id: Option<String>,
        confirm: PublisherConfirm,
    ) -> oneshot::Receiver<Outcome> {
        let (reply, outcome) = oneshot::channel();
        self.used = true;
        let _ = self.events.send(Event::Sent {
            ticket: self.number,
            id,
            confirm,
            reply,
        });
        outcome
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.used {
            let _ = self.events.send(Event::Abandoned {
                ticket: self.number,
            });
        }
    }
}

struct Waiting {
    id: Option<String>,
    confirm: PublisherConfirm,
    reply: oneshot::Sender<Outcome>,
    /// Wakes the collector with this publish's ticket, so that only the
    /// confirmations that moved are polled again.
    waker: Waker,
}

/// A publish whose confirmation resolved, not settled yet.
struct Resolved {
    id: Option<String>,
    reply: oneshot::Sender<Outcome>,
    result: Result<Confirmation, String>,
    /// Tickets issued when it was seen resolved: all of them must have been
    /// handed over before it is settled.
    issued: u64,
}

/// The tickets of the confirmations woken since the collector last looked,
/// and the collector's own waker.
#[derive(Default)]
struct Woken {
    tickets: Mutex<Vec<u64>>,
    collector: Mutex<Option<Waker>>,
}

impl Woken {
    fn lock_tickets(&self) -> std::sync::MutexGuard<'_, Vec<u64>> {
        self.tickets.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_collector(&self) -> std::sync::MutexGuard<'_, Option<Waker>> {
        self.collector.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The waker of one waiting confirmation.
struct ConfirmWaker {
    ticket: u64,
    woken: Arc<Woken>,
}

impl Wake for ConfirmWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.lock_tickets().push(self.ticket);
        if let Some(collector) = self.woken.lock_collector().as_ref() {
            collector.wake_by_ref();
        }
    }
}

struct Collector {
    events: mpsc::UnboundedReceiver<Event>,
    issued: Arc<AtomicU64>,
    closed: bool,
    /// Every ticket below this one was handed over or abandoned.
    complete: u64,
    /// Tickets at or above `complete` handed over or abandoned.
    beyond: BTreeSet<u64>,
    waiting: HashMap<u64, Waiting>,
    /// Tickets to poll: new confirmations, then woken ones.
    due: Vec<u64>,
    woken: Arc<Woken>,
    resolved: Vec<Resolved>,
    /// Ids of returned messages whose publish is not settled yet.
    returned: HashSet<String>,
}

impl Collector {
    fn new(events: mpsc::UnboundedReceiver<Event>, issued: Arc<AtomicU64>) -> Self {
        Collector {
            events,
            issued,
            closed: false,
            complete: 0,
            beyond: BTreeSet::new(),
            waiting: HashMap::new(),
            due: Vec::new(),
            woken: Arc::default(),
            resolved: Vec::new(),
            returned: HashSet::new(),
        }
    }

    fn handed_over(&mut self, ticket: u64) {
        self.beyond.insert(ticket);
        while self.beyond.remove(&self.complete) {
            self.complete += 1;
        }
    }

    /// Polls the confirmations that are new or were woken, until none is
    /// left to poll.
    ///
    /// lapin wakes a confirmation after resolving it, and resolves the one
    /// that carries a returned message before the returned message's own.
    /// So once a confirmation is seen resolved, whatever carried its return
    /// was either polled already or has its ticket among the woken ones, and
    /// is read before this returns.
    fn sweep(&mut self) {
        loop {
            let mut due = std::mem::take(&mut self.due);
            due.append(&mut self.woken.lock_tickets());
            if due.is_empty() {
                return;
            }
            for ticket in due {
                self.poll_one(ticket);
            }
        }
    }

    fn poll_one(&mut self, ticket: u64) {
        let Some(waiting) = self.waiting.get_mut(&ticket) else {
            return;
        };
        let mut cx = Context::from_waker(&waiting.waker);
        let Poll::Ready(result) = Pin::new(&mut waiting.confirm).poll(&mut cx) else {
            return;
        };
        let Some(Waiting { id, reply, .. }) = self.waiting.remove(&ticket) else {
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
            id,
            reply,
            result,
            issued: self.issued.load(Ordering::SeqCst),
        });
    }

    /// Settles every resolved publish whose predecessors were handed over.
    fn settle(&mut self) {
        let complete = self.complete;
        let mut index = 0;
        while index < self.resolved.len() {
            if self.resolved[index].issued > complete {
                index += 1;
                continue;
            }
            let Resolved {
                id, reply, result, ..
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
            let _ = reply.send(outcome);
        }
    }
}

impl Future for Collector {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        {
            let mut collector = this.woken.lock_collector();
            if !collector.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *collector = Some(cx.waker().clone());
            }
        }
        // Take in what was handed over since the last turn.
        while !this.closed {
            match this.events.poll_recv(cx) {
                Poll::Ready(Some(Event::Sent {
                    ticket,
                    id,
                    confirm,
                    reply,
                })) => {
                    let waker = Waker::from(Arc::new(ConfirmWaker {
                        ticket,
                        woken: Arc::clone(&this.woken),
                    }));
                    this.waiting.insert(
                        ticket,
                        Waiting {
                            id,
                            confirm,
                            reply,
                            waker,
                        },
                    );
                    this.due.push(ticket);
                    this.handed_over(ticket);
                }
                Poll::Ready(Some(Event::Abandoned { ticket })) => this.handed_over(ticket),
                Poll::Ready(None) => this.closed = true,
                Poll::Pending => break,
            }
        }
        this.sweep();
        this.settle();
        if this.closed && this.waiting.is_empty() && this.resolved.is_empty() {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}
