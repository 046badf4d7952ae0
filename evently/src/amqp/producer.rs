//! Producers: what `+ produce` hands a handler.
//!
//! `instantly` publishes when `send` is awaited and returns once the broker
//! confirmed. `once_finished` (the default) keeps the message in the
//! invocation's outbox; the runtime publishes the outbox after the handler
//! succeeded (before acking the message that caused it, or before sending an
//! HTTP response) and drops it when the handler failed.

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::broker::{Broker, PublishError};
use super::envelope::Envelope;
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
    outbox: Mutex<Vec<(&'static Produce, Envelope)>>,
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
            let Some((target, envelope)) = outbox.pop() else {
                return Ok(());
            };
            return self
                .broker
                .publish(target.exchange(), target.routing_key(), envelope)
                .await
                .map_err(ProduceError::publish);
        }
        let sends = outbox.into_iter().map(|(target, envelope)| {
            self.broker
                .publish(target.exchange(), target.routing_key(), envelope)
        });
        for result in futures_util::future::join_all(sends).await {
            result.map_err(ProduceError::publish)?;
        }
        Ok(())
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
        let payload = serde_json::to_vec(message).map_err(ProduceError::encode)?;
        let envelope = Envelope {
            payload: payload.into(),
            message_id: Some(message_id()),
            correlation_id: self.invocation.correlation_id.clone(),
            timestamp: Some(now()),
            content_type: Some("application/json".to_owned()),
            headers: Default::default(),
        };
        if self.target.instantly() {
            // Boxed so that every handler's future does not carry a publish's
            // state, which is large, for the few that send instantly.
            let target = self.target;
            let broker = &self.invocation.broker;
            Box::pin(broker.publish(target.exchange(), target.routing_key(), envelope))
                .await
                .map_err(ProduceError::publish)
        } else {
            self.invocation
                .outbox
                .lock()
                .expect("outbox lock")
                .push((self.target, envelope));
            Ok(())
        }
    }

    /// The producer's name, when the binding gave it one with `as name`.
    pub fn name(&self) -> Option<&'static str> {
        self.target.name()
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
