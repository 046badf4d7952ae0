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

use std::fmt;
use std::sync::Arc;

use tokio::sync::Notify;

use self::routing::Exchange;
use self::state::{Consumer, Queue, Shared, State};
use super::envelope::{Envelope, ExchangeKind};

pub(crate) use self::consumer::{MemoryAcker, MemoryConsumer};

mod consumer;
mod routing;
mod state;
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
    /// The consumer behind a delivery was dropped, or a consumer was to
    /// start after the broker closed.
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

/// A message handed to a consumer, to be settled through its acker.
pub(crate) struct MemoryDelivery {
    pub(crate) envelope: Envelope,
    pub(crate) redelivered: bool,
    pub(crate) acker: MemoryAcker,
}

/// The broker. Clones share it; it lives as long as any clone, consumer or
/// delivery does.
#[derive(Clone)]
pub(crate) struct MemoryBroker {
    shared: Arc<Shared>,
}

impl Default for MemoryBroker {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryBroker {
    pub(crate) fn new() -> Self {
        MemoryBroker {
            shared: Arc::new(Shared::default()),
        }
    }

    /// Declares a queue; declaring it again changes nothing.
    pub(crate) fn declare_queue(&self, name: &str) {
        let mut state = self.shared.lock();
        if !state.queues.contains_key(name) {
            state.queues.insert(name.to_owned(), Queue::new(false));
        }
    }

    /// Declares a queue with a fresh server-made name, deleted with its
    /// messages when its last consumer is dropped. One never consumed stays.
    pub(crate) fn declare_exclusive_queue(&self) -> String {
        let mut state = self.shared.lock();
        let name = loop {
            state.next_queue_name += 1;
            let name = format!("amq.gen-{}", state.next_queue_name);
            if !state.queues.contains_key(&name) {
                break name;
            }
        };
        let queue = Queue::new(true);
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
        let consumer = Consumer::new(id, queue, prefetch, Arc::clone(&notify));
        state.consumers.insert(id, consumer);
        Ok(MemoryConsumer::new(
            Arc::clone(&self.shared),
            id,
            queue.to_owned(),
            notify,
        ))
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
