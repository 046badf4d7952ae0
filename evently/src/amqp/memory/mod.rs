//! An in-process broker with RabbitMQ's semantics, behind `memory://`.
//!
//! It is what `cargo run` and the testing kit use, so a service behaves the
//! same on a fresh machine as against RabbitMQ: queues, the default exchange,
//! direct, fanout and topic exchanges, mandatory publishing that fails when a
//! message reaches no queue, prefetch, acks, nacks with or without requeue,
//! redelivery flags, competing consumers, and server-named exclusive queues.
//!
//! Two differences are deliberate:
//!
//! - RabbitMQ pushes up to `prefetch` messages to a consumer before the
//!   application asks for them. Here a message stays ready until
//!   [`MemoryConsumer::next`] takes it, so [`MemoryBroker::ready_count`] and
//!   [`MemoryBroker::drain`] see every message no handler has started on.
//!   Consumers waiting in `next` are served in the order they started waiting.
//! - There are no connections or channels: a [`MemoryConsumer`] plays its
//!   channel. Cancelling it ends its deliveries but its unacked messages can
//!   still be settled; dropping it closes the channel, which requeues them.
//!
//! All state sits behind one mutex, held only for a few map and queue
//! operations and never across an `.await`. A consumer waiting in `next`
//! sleeps on its own [`Notify`] and is woken only when it can make progress.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use self::routing::Exchange;
use super::envelope::{Envelope, ExchangeKind};

mod routing;
#[cfg(test)]
mod tests;

/// Why the memory broker refused an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MemoryError {
    UnknownQueue(String),
    NoExchange(String),
    /// A publish that reached no queue: RabbitMQ returns such a mandatory
    /// message to its publisher.
    Unroutable {
        exchange: String,
        routing_key: String,
    },
    /// The exchange exists with another kind (RabbitMQ's
    /// `PRECONDITION_FAILED`).
    ExchangeKindMismatch(String),
    /// The consumer behind a delivery was dropped, or the broker was closed
    /// before a consumer was started.
    ChannelClosed,
}

impl fmt::Display for MemoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemoryError::UnknownQueue(queue) => write!(f, "no queue named `{queue}`"),
            MemoryError::NoExchange(exchange) if exchange.is_empty() => {
                f.write_str("the default exchange takes no bindings")
            }
            MemoryError::NoExchange(exchange) => write!(f, "no exchange named `{exchange}`"),
            MemoryError::Unroutable {
                exchange,
                routing_key,
            } if exchange.is_empty() => write!(f, "no queue named `{routing_key}`"),
            MemoryError::Unroutable {
                exchange,
                routing_key,
            } => write!(
                f,
                "exchange `{exchange}` routes `{routing_key}` to no queue"
            ),
            MemoryError::ExchangeKindMismatch(exchange) if exchange.is_empty() => {
                f.write_str("the default exchange is a direct exchange")
            }
            MemoryError::ExchangeKindMismatch(exchange) => {
                write!(f, "exchange `{exchange}` exists with another kind")
            }
            MemoryError::ChannelClosed => f.write_str("channel closed"),
        }
    }
}

impl std::error::Error for MemoryError {}

/// The broker. Clones share it; it lives as long as any clone, consumer or
/// delivery does.
#[derive(Clone)]
pub(crate) struct MemoryBroker {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    queues: HashMap<String, Queue>,
    exchanges: HashMap<String, Exchange>,
    consumers: HashMap<u64, Consumer>,
    next_consumer: u64,
    next_queue_name: u64,
    closed: bool,
}

#[derive(Default)]
struct Queue {
    ready: VecDeque<Message>,
    /// Consumers waiting in `next` with prefetch room, first come first
    /// served. An entry whose wait has ended since is stale and skipped.
    waiters: VecDeque<Waiter>,
    /// Consumers not dropped yet, cancelled ones included.
    consumers: usize,
    /// Deleted when its last consumer is dropped.
    exclusive: bool,
}

struct Message {
    /// Shared between the queues a publish reached, and kept while unacked
    /// so that it can be requeued.
    envelope: Arc<Envelope>,
    redelivered: bool,
}

/// What a consumer's `next` gets from the state.
enum Take {
    Delivery {
        envelope: Arc<Envelope>,
        redelivered: bool,
        tag: u64,
    },
    Ended,
    Wait,
}

struct Waiter {
    consumer: u64,
    wait: u64,
}

/// A consumer as the broker sees it: its channel, in RabbitMQ's terms.
struct Consumer {
    id: u64,
    queue: String,
    prefetch: usize,
    /// By delivery tag, which grows with each delivery: requeueing in tag
    /// order puts messages back in the order they left the queue.
    unacked: BTreeMap<u64, Arc<Envelope>>,
    next_tag: u64,
    cancelled: bool,
    waiting: Option<Wait>,
    waits: u64,
    notify: Arc<Notify>,
}

/// A `next` call asleep until it can make progress.
struct Wait {
    id: u64,
    /// Whether it sits in its queue's `waiters`, which it does only while it
    /// has prefetch room; without, it waits for an ack instead.
    listed: bool,
}

impl Default for MemoryBroker {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryBroker {
    pub(crate) fn new() -> Self {
        MemoryBroker {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// Declares a queue; declaring it again changes nothing.
    pub(crate) fn declare_queue(&self, name: &str) {
        let mut state = self.shared.lock();
        if !state.queues.contains_key(name) {
            state.queues.insert(name.to_owned(), Queue::default());
        }
    }

    /// Declares a queue with a fresh server-made name, deleted with its
    /// messages when its last consumer is dropped. One never consumed stays.
    #[allow(dead_code, reason = "for WebSocket subscriptions and the testing kit")]
    pub(crate) fn declare_exclusive_queue(&self) -> String {
        let mut state = self.shared.lock();
        let name = loop {
            state.next_queue_name += 1;
            let name = format!("amq.gen-{}", state.next_queue_name);
            if !state.queues.contains_key(&name) {
                break name;
            }
        };
        let queue = Queue {
            exclusive: true,
            ..Queue::default()
        };
        state.queues.insert(name.clone(), queue);
        name
    }

    /// Declares an exchange; declaring it again with the same kind changes
    /// nothing. The default exchange `""` counts as a direct one.
    pub(crate) fn declare_exchange(
        &self,
        name: &str,
        kind: ExchangeKind,
    ) -> Result<(), MemoryError> {
        if name.is_empty() {
            return match kind {
                ExchangeKind::Direct => Ok(()),
                _ => Err(MemoryError::ExchangeKindMismatch(String::new())),
            };
        }
        let mut state = self.shared.lock();
        match state.exchanges.get(name) {
            Some(exchange) if exchange.kind == kind => Ok(()),
            Some(_) => Err(MemoryError::ExchangeKindMismatch(name.to_owned())),
            None => {
                state.exchanges.insert(name.to_owned(), Exchange::new(kind));
                Ok(())
            }
        }
    }

    /// Binds a queue to an exchange. Binding the same pair and key again
    /// changes nothing; the default exchange takes no bindings.
    pub(crate) fn bind(&self, queue: &str, exchange: &str, key: &str) -> Result<(), MemoryError> {
        let mut state = self.shared.lock();
        if !state.queues.contains_key(queue) {
            return Err(MemoryError::UnknownQueue(queue.to_owned()));
        }
        let Some(exchange) = state.exchanges.get_mut(exchange) else {
            return Err(MemoryError::NoExchange(exchange.to_owned()));
        };
        exchange.bind(queue, key);
        Ok(())
    }

    /// Puts a copy of the message in every queue the exchange routes it to,
    /// which is what a confirm means. The default exchange `""` routes to
    /// the queue named `routing_key`.
    pub(crate) fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        envelope: Envelope,
    ) -> Result<(), MemoryError> {
        let mut guard = self.shared.lock();
        let State {
            queues,
            exchanges,
            consumers,
            ..
        } = &mut *guard;
        let envelope = Arc::new(envelope);
        let unroutable = || MemoryError::Unroutable {
            exchange: exchange.to_owned(),
            routing_key: routing_key.to_owned(),
        };

        if exchange.is_empty() {
            let queue = queues.get_mut(routing_key).ok_or_else(unroutable)?;
            queue.push_back(envelope, consumers);
            return Ok(());
        }

        let Some(exchange) = exchanges.get(exchange) else {
            return Err(MemoryError::NoExchange(exchange.to_owned()));
        };
        let mut targets = Vec::new();
        exchange.route(routing_key, &mut targets);
        if targets.is_empty() {
            return Err(unroutable());
        }
        for name in targets {
            // Bindings go with their queue, so every target exists.
            if let Some(queue) = queues.get_mut(name) {
                queue.push_back(Arc::clone(&envelope), consumers);
            }
        }
        Ok(())
    }

    /// Starts a consumer that holds at most `prefetch` unacked deliveries;
    /// 0 means no limit, as in RabbitMQ. Consumers of one queue compete for
    /// its messages.
    ///
    /// Fails with [`MemoryError::ChannelClosed`] once the broker is closed.
    pub(crate) fn consume(
        &self,
        queue: &str,
        prefetch: u16,
    ) -> Result<MemoryConsumer, MemoryError> {
        let mut state = self.shared.lock();
        if state.closed {
            return Err(MemoryError::ChannelClosed);
        }
        let Some(entry) = state.queues.get_mut(queue) else {
            return Err(MemoryError::UnknownQueue(queue.to_owned()));
        };
        entry.consumers += 1;

        state.next_consumer += 1;
        let id = state.next_consumer;
        let notify = Arc::new(Notify::new());
        let prefetch = match prefetch {
            0 => usize::MAX,
            n => usize::from(n),
        };
        let consumer = Consumer {
            id,
            queue: queue.to_owned(),
            prefetch,
            unacked: BTreeMap::new(),
            next_tag: 1,
            cancelled: false,
            waiting: None,
            waits: 0,
            notify: Arc::clone(&notify),
        };
        state.consumers.insert(id, consumer);
        Ok(MemoryConsumer {
            shared: Arc::clone(&self.shared),
            id,
            notify,
            ended: false,
        })
    }

    /// How many messages of a queue wait for a consumer; `None` if there is
    /// no such queue.
    #[allow(dead_code, reason = "for WebSocket subscriptions and the testing kit")]
    pub(crate) fn ready_count(&self, queue: &str) -> Option<usize> {
        self.shared.lock().queues.get(queue).map(|q| q.ready.len())
    }

    /// Takes every ready message out of a queue, oldest first.
    #[allow(dead_code, reason = "for WebSocket subscriptions and the testing kit")]
    pub(crate) fn drain(&self, queue: &str) -> Vec<Envelope> {
        let ready = match self.shared.lock().queues.get_mut(queue) {
            Some(queue) => std::mem::take(&mut queue.ready),
            None => return Vec::new(),
        };
        ready
            .into_iter()
            .map(|m| Arc::try_unwrap(m.envelope).unwrap_or_else(|shared| (*shared).clone()))
            .collect()
    }

    /// Ends every consumer, for shutdown: `next` returns `None` from now on
    /// and no consumer can start. Publishing and settling deliveries still
    /// work, so handlers in flight can finish.
    pub(crate) fn close(&self) {
        let mut state = self.shared.lock();
        state.closed = true;
        for consumer in state.consumers.values() {
            consumer.notify.notify_one();
        }
    }
}

impl Shared {
    /// Locks the state. A panic never leaves it half-updated (no user code
    /// runs under the lock), so a poisoned lock is still sound to use.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Queue {
    fn push_back(&mut self, envelope: Arc<Envelope>, consumers: &mut HashMap<u64, Consumer>) {
        self.ready.push_back(Message {
            envelope,
            redelivered: false,
        });
        self.wake_one(consumers);
    }

    /// Puts messages back at the front, the first of `messages` first.
    fn requeue(
        &mut self,
        messages: impl DoubleEndedIterator<Item = Arc<Envelope>>,
        consumers: &mut HashMap<u64, Consumer>,
    ) {
        let mut count = 0;
        for envelope in messages.rev() {
            self.ready.push_front(Message {
                envelope,
                redelivered: true,
            });
            count += 1;
        }
        for _ in 0..count {
            if !self.wake_one(consumers) {
                break;
            }
        }
    }

    /// Wakes the longest-waiting consumer that has room, if any. It may
    /// find the message gone when it runs (another consumer took it first);
    /// then it simply waits again.
    fn wake_one(&mut self, consumers: &mut HashMap<u64, Consumer>) -> bool {
        while let Some(waiter) = self.waiters.pop_front() {
            let Some(consumer) = consumers.get_mut(&waiter.consumer) else {
                continue;
            };
            if consumer
                .waiting
                .as_ref()
                .is_some_and(|w| w.id == waiter.wait)
            {
                consumer.wake();
                return true;
            }
        }
        false
    }
}

impl Consumer {
    fn has_room(&self) -> bool {
        self.unacked.len() < self.prefetch
    }

    fn wake(&mut self) {
        self.waiting = None;
        self.notify.notify_one();
    }

    /// After an ack or nack freed room: a consumer waiting for room either
    /// gets woken to take a ready message (`true`) or starts waiting for one.
    fn room_freed(&mut self, queue: &mut Queue) -> bool {
        let Some(wait) = &mut self.waiting else {
            return false;
        };
        if !queue.ready.is_empty() {
            self.wake();
            return true;
        }
        if !wait.listed {
            wait.listed = true;
            queue.waiters.push_back(Waiter {
                consumer: self.id,
                wait: wait.id,
            });
        }
        false
    }
}

impl State {
    /// Hands the consumer its next message, or registers it as waiting.
    fn take(&mut self, id: u64) -> Take {
        let State {
            queues,
            consumers,
            closed,
            ..
        } = self;
        let Some(consumer) = consumers.get_mut(&id) else {
            return Take::Ended;
        };
        // An exclusive queue outlives its consumers, so this one exists.
        let Some(queue) = queues.get_mut(&consumer.queue) else {
            return Take::Ended;
        };
        if *closed || consumer.cancelled {
            consumer.waiting = None;
            return Take::Ended;
        }

        let has_room = consumer.has_room();
        if has_room && let Some(message) = queue.ready.pop_front() {
            consumer.waiting = None;
            let tag = consumer.next_tag;
            consumer.next_tag += 1;
            consumer.unacked.insert(tag, Arc::clone(&message.envelope));
            return Take::Delivery {
                envelope: message.envelope,
                redelivered: message.redelivered,
                tag,
            };
        }

        consumer.waits += 1;
        let wait = consumer.waits;
        consumer.waiting = Some(Wait {
            id: wait,
            listed: has_room,
        });
        if has_room {
            queue.waiters.push_back(Waiter { consumer: id, wait });

            // Entries go stale when a wait ends otherwise than by a wake-up;
            // sweep them before they pile up.
            if queue.waiters.len() > 2 * queue.consumers + 8 {
                queue.waiters.retain(|w| {
                    consumers
                        .get(&w.consumer)
                        .and_then(|c| c.waiting.as_ref())
                        .is_some_and(|c| c.id == w.wait)
                });
            }
        }
        Take::Wait
    }

    /// Settles one delivery of a live consumer.
    fn settle(&mut self, id: u64, tag: u64, requeue: bool) -> Result<(), MemoryError> {
        let State {
            queues, consumers, ..
        } = self;
        let Some(consumer) = consumers.get_mut(&id) else {
            return Err(MemoryError::ChannelClosed);
        };
        let Some(queue) = queues.get_mut(&consumer.queue) else {
            return Err(MemoryError::ChannelClosed);
        };
        let Some(envelope) = consumer.unacked.remove(&tag) else {
            return Ok(());
        };
        if requeue {
            queue.ready.push_front(Message {
                envelope,
                redelivered: true,
            });
        }
        let woken = consumer.room_freed(queue);
        if requeue && !woken {
            queue.wake_one(consumers);
        }
        Ok(())
    }

    /// Closes a consumer's channel: requeues what it left unacked and
    /// deletes its queue if that was exclusive and this its last consumer.
    fn remove_consumer(&mut self, id: u64) {
        let State {
            queues,
            exchanges,
            consumers,
            ..
        } = self;
        let Some(consumer) = consumers.remove(&id) else {
            return;
        };
        let Some(queue) = queues.get_mut(&consumer.queue) else {
            return;
        };
        queue.consumers -= 1;
        if queue.exclusive && queue.consumers == 0 {
            queues.remove(&consumer.queue);
            for exchange in exchanges.values_mut() {
                exchange.unbind_queue(&consumer.queue);
            }
            tracing::trace!(queue = %consumer.queue, "exclusive queue deleted");
            return;
        }
        queue.requeue(consumer.unacked.into_values(), consumers);
    }
}

/// Deliveries from one queue. Dropping it requeues its unacked deliveries
/// at the front of the queue and makes their ackers fail.
pub(crate) struct MemoryConsumer {
    shared: Arc<Shared>,
    id: u64,
    notify: Arc<Notify>,
    ended: bool,
}

impl MemoryConsumer {
    /// The next delivery, once one is ready and this consumer holds fewer
    /// than `prefetch` unacked ones. `None` once the consumer was cancelled
    /// or the broker closed.
    ///
    /// Cancel-safe: dropping the future takes nothing off the queue.
    pub(crate) async fn next(&mut self) -> Option<MemoryDelivery> {
        if self.ended {
            return None;
        }
        loop {
            let taken = self.shared.lock().take(self.id);
            match taken {
                Take::Delivery {
                    envelope,
                    redelivered,
                    tag,
                } => {
                    // The broker keeps its copy for a requeue until the ack.
                    let envelope = Arc::unwrap_or_clone(envelope);
                    let acker = MemoryAcker {
                        shared: Arc::clone(&self.shared),
                        consumer: self.id,
                        tag,
                    };
                    return Some(MemoryDelivery {
                        envelope,
                        redelivered,
                        acker,
                    });
                }
                Take::Ended => {
                    self.ended = true;
                    return None;
                }
                Take::Wait => {
                    let sleeping = Sleeping {
                        shared: &self.shared,
                        consumer: self.id,
                    };
                    self.notify.notified().await;
                    std::mem::forget(sleeping);
                }
            }
        }
    }

    /// Stops deliveries: `next` returns `None` from now on. Deliveries
    /// already handed out can still be acked or nacked.
    pub(crate) fn cancel(&mut self) {
        self.ended = true;
        if let Some(consumer) = self.shared.lock().consumers.get_mut(&self.id) {
            consumer.cancelled = true;
        }
    }
}

impl Drop for MemoryConsumer {
    fn drop(&mut self) {
        self.shared.lock().remove_consumer(self.id);
    }
}

/// Guards a `next` call while it sleeps: if the call is dropped there, its
/// wait ends, and a wake-up it may have received goes to another consumer
/// so that a ready message is not left waiting for nobody.
struct Sleeping<'a> {
    shared: &'a Shared,
    consumer: u64,
}

impl Drop for Sleeping<'_> {
    fn drop(&mut self) {
        let mut guard = self.shared.lock();
        let State {
            queues, consumers, ..
        } = &mut *guard;
        let Some(consumer) = consumers.get_mut(&self.consumer) else {
            return;
        };
        let woken = consumer.waiting.take().is_none();
        if woken
            && let Some(queue) = queues.get_mut(&consumer.queue)
            && !queue.ready.is_empty()
        {
            queue.wake_one(consumers);
        }
    }
}

/// A message handed to a consumer, to be settled through its acker.
pub(crate) struct MemoryDelivery {
    pub(crate) envelope: Envelope,
    pub(crate) redelivered: bool,
    pub(crate) acker: MemoryAcker,
}

/// Settles one delivery. Dropped unsettled, the delivery stays unacked until
/// its consumer is dropped, and is then requeued.
pub(crate) struct MemoryAcker {
    shared: Arc<Shared>,
    consumer: u64,
    tag: u64,
}

impl MemoryAcker {
    /// Removes the message for good.
    ///
    /// Fails with [`MemoryError::ChannelClosed`] when the consumer was
    /// dropped: the message went back to its queue then.
    pub(crate) fn ack(self) -> Result<(), MemoryError> {
        self.shared.lock().settle(self.consumer, self.tag, false)
    }

    /// Gives the message back to the front of its queue, flagged as
    /// redelivered (`requeue`), or discards it.
    ///
    /// Fails with [`MemoryError::ChannelClosed`] when the consumer was
    /// dropped: the message went back to its queue then.
    pub(crate) fn nack(self, requeue: bool) -> Result<(), MemoryError> {
        self.shared.lock().settle(self.consumer, self.tag, requeue)
    }
}
