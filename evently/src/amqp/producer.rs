//! Producers: what `+ produce` hands a handler.
//!
//! `instantly` publishes when `send` is awaited and returns once the broker
//! confirmed. `once_finished` (the default) keeps the message in the
//! invocation's outbox; the runtime publishes the outbox after the handler
//! succeeded (before acking the message that caused it, or before sending an
//! HTTP response) and drops it when the handler failed.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::broker::{Broker, PublishError};
use super::envelope::{Envelope, HeaderValue};
use crate::topology::{Produce, Resource};

/// Sends JSON messages to the queue or exchange its binding names.
pub struct Producer {
    invocation: Arc<Invocation>,
    target: &'static Produce,
}

/// One run of a handler: its outbox and the correlation id its messages
/// carry.
pub(crate) struct Invocation {
    broker: Broker,
    correlation_id: Option<String>,
    outbox: Mutex<Vec<Pending>>,
}

/// A `once_finished` message waiting for its handler to succeed.
struct Pending {
    exchange: &'static str,
    /// The binding's, or one the handler chose for the message.
    routing_key: Cow<'static, str>,
    envelope: Envelope,
}

impl Invocation {
    pub(crate) fn new(broker: Broker, correlation_id: Option<String>) -> Arc<Self> {
        Arc::new(Invocation {
            broker,
            correlation_id,
            outbox: Mutex::new(Vec::new()),
        })
    }

    /// The producer of a `produce` resource.
    ///
    /// # Panics
    ///
    /// When the resource is not a `produce` one; the generated code only
    /// hands producers to `produce` positions.
    pub(crate) fn producer(self: &Arc<Self>, resource: &'static Resource) -> Producer {
        let Resource::Produce(target) = resource else {
            unreachable!("only `produce` resources become producers");
        };
        Producer {
            invocation: Arc::clone(self),
            target,
        }
    }

    /// Publishes every `once_finished` message and waits for the broker to
    /// confirm them all.
    pub(crate) async fn flush(&self) -> Result<(), ProduceError> {
        let mut outbox = std::mem::take(&mut *self.outbox.lock().expect("outbox lock"));
        if outbox.len() <= 1 {
            // The common case needs no joining.
            return match outbox.pop() {
                Some(pending) => self.publish(pending).await,
                None => Ok(()),
            };
        }
        let sends = outbox.into_iter().map(|pending| self.publish(pending));
        for result in futures_util::future::join_all(sends).await {
            result?;
        }
        Ok(())
    }

    async fn publish(&self, pending: Pending) -> Result<(), ProduceError> {
        self.broker
            .publish(pending.exchange, &pending.routing_key, pending.envelope)
            .await
            .map_err(ProduceError::publish)
    }

    /// Forgets the `once_finished` messages of a failed handler.
    pub(crate) fn discard(&self) {
        self.outbox.lock().expect("outbox lock").clear();
    }
}

impl Producer {
    /// Sends `message` as JSON.
    ///
    /// # Errors
    ///
    /// Fails when the message cannot be encoded, and, for an `instantly`
    /// producer, when the broker does not confirm it: no queue is bound for
    /// it, the broker refused it, or the broker is unreachable.
    pub async fn send<T: Serialize + ?Sized>(&self, message: &T) -> Result<(), ProduceError> {
        self.message(message).send().await
    }

    /// A message to send with a routing key or headers of its own.
    ///
    /// ```no_run
    /// # async fn example(events: evently::amqp::Producer) -> Result<(), evently::amqp::ProduceError> {
    /// # let order = ();
    /// events
    ///     .message(&order)
    ///     .key("order.created.eu")
    ///     .header("x-tenant", "acme")
    ///     .send()
    ///     .await
    /// # }
    /// ```
    pub fn message<'a, T: Serialize + ?Sized>(&'a self, message: &'a T) -> Outgoing<'a, T> {
        Outgoing {
            producer: self,
            message,
            key: None,
            headers: BTreeMap::new(),
        }
    }

    /// The producer's name, when the binding gave it one with `as name`.
    pub fn name(&self) -> Option<&'static str> {
        self.target.name()
    }
}

/// A message being given a routing key or headers before it is sent; from
/// [`Producer::message`].
#[must_use = "a message is sent only when `send` is awaited"]
pub struct Outgoing<'a, T: ?Sized> {
    producer: &'a Producer,
    message: &'a T,
    key: Option<String>,
    headers: BTreeMap<String, HeaderValue>,
}

impl<T: Serialize + ?Sized> Outgoing<'_, T> {
    /// Routes the message with `key` instead of the binding's routing key,
    /// as a topic or direct exchange producer does when the key depends on
    /// the message (`order.created.eu`). Only a producer to an exchange has
    /// a key to choose: one to a queue fails to send.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Adds a header, which the consumer reads with `Message::header`.
    /// Names starting with `x-evently-` are evently's own, for retries and
    /// dead letters: the consumer's retries replace them.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers
            .insert(name.into(), HeaderValue::Text(value.into()));
        self
    }

    /// Sends the message as JSON, as [`Producer::send`] does.
    ///
    /// # Errors
    ///
    /// As [`Producer::send`]; and when a key was chosen for a producer to a
    /// queue.
    pub async fn send(self) -> Result<(), ProduceError> {
        let Outgoing {
            producer,
            message,
            key,
            headers,
        } = self;
        let target = producer.target;
        let routing_key = match (key, target.queue()) {
            (None, _) => Cow::Borrowed(target.routing_key()),
            (Some(key), None) => Cow::Owned(key),
            (Some(key), Some(queue)) => {
                return Err(ProduceError {
                    kind: Kind::KeyForQueue {
                        key,
                        queue: queue.to_owned(),
                    },
                });
            }
        };
        let payload = serde_json::to_vec(message).map_err(ProduceError::encode)?;
        let correlation_id = producer.invocation.correlation_id.clone();
        let pending = Pending {
            exchange: target.exchange(),
            routing_key,
            envelope: Envelope::json(payload.into(), correlation_id, headers),
        };
        if target.instantly() {
            // Boxed so that every handler's future does not carry a publish's
            // state, which is large, for the few that send instantly.
            Box::pin(producer.invocation.publish(pending)).await
        } else {
            let mut outbox = producer.invocation.outbox.lock().expect("outbox lock");
            outbox.push(pending);
            Ok(())
        }
    }
}

impl<T: ?Sized> fmt::Debug for Outgoing<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outgoing")
            .field("target", self.producer.target)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Producer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("target", self.target)
            .finish()
    }
}

/// Why a message was not sent.
pub struct ProduceError {
    kind: Kind,
}

enum Kind {
    Encode(serde_json::Error),
    Publish(PublishError),
    /// A routing key chosen for a producer to a queue.
    KeyForQueue {
        key: String,
        queue: String,
    },
}

impl ProduceError {
    pub(crate) fn encode(error: serde_json::Error) -> Self {
        ProduceError {
            kind: Kind::Encode(error),
        }
    }

    pub(crate) fn publish(error: PublishError) -> Self {
        ProduceError {
            kind: Kind::Publish(error),
        }
    }

    /// The message could not be encoded as JSON.
    pub fn is_encode(&self) -> bool {
        matches!(self.kind, Kind::Encode(_))
    }

    /// No queue is bound for the message.
    pub fn is_unroutable(&self) -> bool {
        matches!(self.kind, Kind::Publish(PublishError::Unroutable { .. }))
    }

    /// The broker is unreachable, did not answer in time, or refused.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self.kind,
            Kind::Publish(PublishError::Unavailable(_) | PublishError::Refused)
        )
    }
}

impl fmt::Display for ProduceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Encode(error) => write!(f, "cannot encode the message as JSON: {error}"),
            Kind::Publish(error) => write!(f, "cannot publish: {error}"),
            Kind::KeyForQueue { key, queue } => write!(
                f,
                "cannot route with key {key:?}: this producer sends to queue {queue:?}, \
                 and only a producer to an exchange has a key to choose"
            ),
        }
    }
}

impl fmt::Debug for ProduceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for ProduceError {}

/// A message id unique across processes: a random prefix drawn once per
/// process, then a counter.
pub(crate) fn message_id() -> String {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| RandomState::new().hash_one(std::process::id()));
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix:016x}-{n:08x}")
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amqp::memory::MemoryBroker;

    static TO_QUEUE: Resource = Resource::Produce(Produce::new(None, Some("q"), None, true));
    static TO_EXCHANGE: Resource = Resource::Produce(Produce::new(
        None,
        None,
        Some(crate::topology::ExchangeBinding::new(
            "x", "topic", "a.none",
        )),
        false,
    ));

    #[tokio::test]
    async fn a_chosen_key_routes_a_message_sent_once_finished() {
        let memory = MemoryBroker::default();
        memory.declare_queue("a");
        memory.declare_queue("b");
        memory
            .declare_exchange("x", crate::amqp::ExchangeKind::Topic)
            .unwrap();
        memory.bind("a", "x", "a.*").unwrap();
        memory.bind("b", "x", "b.*").unwrap();
        let invocation = Invocation::new(Broker::Memory(memory.clone()), None);
        let producer = invocation.producer(&TO_EXCHANGE);
        producer.message(&1).key("b.one").send().await.unwrap();
        producer.message(&2).key("a.two").send().await.unwrap();
        producer.send(&3).await.unwrap();

        // Nothing goes out before the flush; then each message goes by the
        // key chosen for it, and the one sent without a key by the
        // binding's, `a.none`, which `a.*` matches.
        let mut b = memory.consume("b", 10).unwrap();
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(50), b.next())
                .await
                .is_err()
        );
        invocation.flush().await.unwrap();
        assert_eq!(&b.next().await.unwrap().envelope.payload[..], b"1");
        let mut a = memory.consume("a", 10).unwrap();
        let mut got = vec![
            a.next().await.unwrap().envelope.payload,
            a.next().await.unwrap().envelope.payload,
        ];
        got.sort();
        assert_eq!(got, [&b"2"[..], &b"3"[..]]);
    }

    #[tokio::test]
    async fn a_producer_to_a_queue_has_no_key_to_choose() {
        let memory = MemoryBroker::default();
        memory.declare_queue("q");
        let invocation = Invocation::new(Broker::Memory(memory.clone()), None);
        let producer = invocation.producer(&TO_QUEUE);

        let error = producer
            .message(&"hello")
            .key("elsewhere")
            .send()
            .await
            .unwrap_err();
        assert!(!error.is_unroutable() && !error.is_encode());
        assert_eq!(
            error.to_string(),
            "cannot route with key \"elsewhere\": this producer sends to queue \"q\", \
             and only a producer to an exchange has a key to choose"
        );

        // Headers are fine anywhere.
        producer
            .message(&"hello")
            .header("x-tenant", "acme")
            .send()
            .await
            .unwrap();
        let mut consumer = memory.consume("q", 10).unwrap();
        let delivery = consumer.next().await.unwrap();
        assert_eq!(
            delivery.envelope.headers.get("x-tenant"),
            Some(&HeaderValue::Text("acme".to_owned()))
        );
        assert_eq!(&delivery.envelope.payload[..], b"\"hello\"");
    }
}
