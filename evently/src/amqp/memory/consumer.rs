//! The consumer side: waiting for deliveries and settling them.

use std::sync::Arc;

use tokio::sync::Notify;

use super::state::{Shared, Take};
use super::{MemoryDelivery, MemoryError};

/// Deliveries from one queue. Dropping it requeues its unacked deliveries
/// at the front of the queue and makes their ackers fail.
pub(crate) struct MemoryConsumer {
    shared: Arc<Shared>,
    id: u64,
    queue: String,
    notify: Arc<Notify>,
    ended: bool,
}

impl MemoryConsumer {
    pub(super) fn new(shared: Arc<Shared>, id: u64, queue: String, notify: Arc<Notify>) -> Self {
        MemoryConsumer {
            shared,
            id,
            queue,
            notify,
            ended: false,
        }
    }

    /// The queue consumed.
    pub(crate) fn queue(&self) -> &str {
        &self.queue
    }

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
        self.shared.lock().cancel(self.id);
    }
}

impl Drop for MemoryConsumer {
    fn drop(&mut self) {
        self.shared.lock().remove_consumer(self.id);
    }
}

/// Guards a `next` call while it sleeps, to end its wait if the call is
/// dropped there; a completed sleep forgets it.
struct Sleeping<'a> {
    shared: &'a Shared,
    consumer: u64,
}

impl Drop for Sleeping<'_> {
    fn drop(&mut self) {
        self.shared.lock().stop_waiting(self.consumer);
    }
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
    /// Fails with [`MemoryError::ChannelClosed`] once the consumer was
    /// dropped, which requeued the message (or, for an exclusive queue,
    /// deleted it with the queue).
    pub(crate) fn ack(self) -> Result<(), MemoryError> {
        self.shared.lock().settle(self.consumer, self.tag, false)
    }

    /// Gives the message back to the front of its queue, flagged as
    /// redelivered (`requeue`), or discards it.
    ///
    /// Fails with [`MemoryError::ChannelClosed`] once the consumer was
    /// dropped, which requeued the message (or, for an exclusive queue,
    /// deleted it with the queue).
    pub(crate) fn nack(self, requeue: bool) -> Result<(), MemoryError> {
        self.shared.lock().settle(self.consumer, self.tag, requeue)
    }
}
