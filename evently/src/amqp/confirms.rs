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
//! - and a sweep after it was seen resolved found nothing new (whatever
//!   carried its return, resolved earlier, has been read by then).
//!
//! A publish is then "returned" exactly when its own id was among the
//! returned messages, whichever confirmation carried it.

use std::collections::{BTreeSet, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

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

struct Collector {
    events: mpsc::UnboundedReceiver<Event>,
    issued: Arc<AtomicU64>,
    closed: bool,
    /// Every ticket below this one was handed over or abandoned.
    complete: u64,
    /// Tickets at or above `complete` handed over or abandoned.
    beyond: BTreeSet<u64>,
    waiting: Vec<Waiting>,
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
            waiting: Vec::new(),
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

    /// Polls every waiting confirmation once; returns whether any resolved.
    fn sweep(&mut self, cx: &mut Context<'_>) -> bool {
        let mut any = false;
        let mut index = 0;
        while index < self.waiting.len() {
            let polled = Pin::new(&mut self.waiting[index].confirm).poll(cx);
            let Poll::Ready(result) = polled else {
                index += 1;
                continue;
            };
            any = true;
            let Waiting { id, reply, .. } = self.waiting.swap_remove(index);
            let result = result.map_err(|error| error.to_string());
            // A returned message without an id can only be told by the
            // confirmation lapin put it with; `settle` does that.
            if let Ok(Confirmation::Ack(Some(message)) | Confirmation::Nack(Some(message))) =
                &result
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
        any
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
        loop {
            // Take in what was handed over since the last turn.
            while !this.closed {
                match this.events.poll_recv(cx) {
                    Poll::Ready(Some(Event::Sent {
                        ticket,
                        id,
                        confirm,
                        reply,
                    })) => {
                        this.waiting.push(Waiting { id, confirm, reply });
                        this.handed_over(ticket);
                    }
                    Poll::Ready(Some(Event::Abandoned { ticket })) => this.handed_over(ticket),
                    Poll::Ready(None) => this.closed = true,
                    Poll::Pending => break,
                }
            }

            // Sweep until a sweep finds nothing new: by then every return
            // that rode on an earlier confirmation has been read.
            let mut found = false;
            while this.sweep(cx) {
                found = true;
            }
            this.settle();

            // New events may have come in while sweeping; take them before
            // waiting, so that nothing is left unseen.
            if found && !this.closed {
                continue;
            }
            if this.closed && this.waiting.is_empty() && this.resolved.is_empty() {
                return Poll::Ready(());
            }
            return Poll::Pending;
        }
    }
}
