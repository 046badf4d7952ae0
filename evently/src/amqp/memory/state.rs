//! The broker's state and the bookkeeping that wakes waiting consumers.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use super::MemoryError;
use super::routing::Exchange;
use crate::amqp::envelope::Envelope;

#[derive(Default)]
pub(super) struct Shared {
    state: Mutex<State>,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) queues: HashMap<String, Queue>,
    pub(super) exchanges: HashMap<String, Exchange>,
    pub(super) consumers: HashMap<u64, Consumer>,
    pub(super) next_consumer: u64,
    pub(super) next_queue_name: u64,
    pub(super) closed: bool,
}

#[derive(Default)]
pub(super) struct Queue {
    pub(super) ready: VecDeque<Message>,
    /// Consumers waiting in `next` with prefetch room, first come first
    /// served. An entry whose wait has ended since is stale and skipped.
    waiters: VecDeque<Waiter>,
    /// Consumers not dropped yet, cancelled ones included.
    pub(super) consumers: usize,
    /// Deleted when its last consumer is dropped.
    exclusive: bool,
}

pub(super) struct Message {
    /// Shared between the queues a publish reached, and kept while unacked
    /// so that it can be requeued.
    pub(super) envelope: Arc<Envelope>,
    pub(super) redelivered: bool,
}

/// What a consumer's `next` gets from the state.
pub(super) enum Take {
    Delivery {
        envelope: Arc<Envelope>,
        redelivered: bool,
        tag: u64,
    },
    Ended,
    Wait,
}

pub(super) struct Waiter {
    consumer: u64,
    wait: u64,
}

/// A consumer as the broker sees it: its channel, in RabbitMQ's terms.
pub(super) struct Consumer {
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
    pub(super) notify: Arc<Notify>,
}

/// A `next` call asleep until it can make progress.
pub(super) struct Wait {
    id: u64,
    /// Whether it sits in its queue's `waiters`, which it does only while it
    /// has prefetch room; without, it waits for an ack instead.
    listed: bool,
}

impl Shared {
    /// Locks the state. A panic never leaves it half-updated (no user code
    /// runs under the lock), so a poisoned lock is still sound to use.
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Queue {
    pub(super) fn new(exclusive: bool) -> Self {
        Queue {
            exclusive,
            ..Queue::default()
        }
    }

    pub(super) fn push_back(
        &mut self,
        envelope: Arc<Envelope>,
        consumers: &mut HashMap<u64, Consumer>,
    ) {
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
    pub(super) fn new(id: u64, queue: &str, prefetch: usize, notify: Arc<Notify>) -> Self {
        Consumer {
            id,
            queue: queue.to_owned(),
            prefetch,
            unacked: BTreeMap::new(),
            next_tag: 1,
            cancelled: false,
            waiting: None,
            waits: 0,
            notify,
        }
    }

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
    pub(super) fn take(&mut self, id: u64) -> Take {
        let State {
            queues,
            consumers,
            closed,
            ..
        } = self;
        let Some(consumer) = consumers.get_mut(&id) else {
            return Take::Ended;
        };
        // A queue is deleted only with its last consumer, so this one exists.
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
    pub(super) fn settle(&mut self, id: u64, tag: u64, requeue: bool) -> Result<(), MemoryError> {
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

    /// Stops a consumer's deliveries; its unacked ones stay settleable.
    pub(super) fn cancel(&mut self, id: u64) {
        if let Some(consumer) = self.consumers.get_mut(&id) {
            consumer.cancelled = true;
        }
    }

    /// Ends a wait whose `next` call was dropped. If that call had been woken
    /// for a ready message, the wake-up passes on to another consumer so the
    /// message is not left waiting for nobody.
    pub(super) fn stop_waiting(&mut self, id: u64) {
        let State {
            queues, consumers, ..
        } = self;
        let Some(consumer) = consumers.get_mut(&id) else {
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

    /// Closes a consumer's channel: requeues what it left unacked and
    /// deletes its queue if that was exclusive and this its last consumer.
    pub(super) fn remove_consumer(&mut self, id: u64) {
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
