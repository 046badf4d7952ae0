//! A WebSocket session's own consumer: `+ consume "queue"` or
//! `+ subscribe "exchange" key "pattern"` on a `ws` entry.
//!
//! Each session opens its own consumer when it starts. With `consume`, the
//! sessions compete for the queue's messages; with `subscribe`, each session
//! gets an exclusive queue bound to the exchange, deleted when the session
//! ends, so a message published once reaches every session of every running
//! instance. A delivery is settled by the handler: acked once it was written
//! to the socket. Whatever the session leaves unacked goes back to its queue
//! when the session ends.

use std::fmt;

use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::broker::{Acker, Consumer, Incoming};
use super::envelope::Envelope;

/// Messages for one session, from a queue or an exchange.
pub struct Subscription {
    consumer: Consumer,
}

/// A message from a [`Subscription`], to be acked once handled.
pub struct Delivery {
    envelope: Envelope,
    redelivered: bool,
    acker: Acker,
}

impl Subscription {
    pub(crate) fn new(consumer: Consumer) -> Self {
        Subscription { consumer }
    }

    /// The next message; `None` when the subscription ended (the broker
    /// connection was lost, or the service is shutting down).
    pub async fn next(&mut self) -> Option<Delivery> {
        let Incoming {
            envelope,
            redelivered,
            acker,
        } = self.consumer.next().await?;
        Some(Delivery {
            envelope,
            redelivered,
            acker,
        })
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}

impl Delivery {
    /// The raw payload.
    pub fn payload(&self) -> &Bytes {
        &self.envelope.payload
    }

    /// The payload as text, when it is UTF-8.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.envelope.payload).ok()
    }

    /// The payload decoded as JSON.
    ///
    /// # Errors
    ///
    /// When the payload is not JSON of type `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.envelope.payload)
    }

    /// The message id, when the publisher set one.
    pub fn message_id(&self) -> Option<&str> {
        self.envelope.message_id.as_deref()
    }

    /// Whether the broker delivered this message before.
    pub fn redelivered(&self) -> bool {
        self.redelivered
    }

    /// Acks: the message was handled and leaves the queue.
    ///
    /// # Errors
    ///
    /// When the channel is gone; the broker then delivers the message again.
    pub async fn ack(self) -> Result<(), String> {
        self.acker.ack().await
    }

    /// Hands the message back to its queue.
    ///
    /// # Errors
    ///
    /// When the channel is gone; the broker then delivers the message again
    /// anyway.
    pub async fn requeue(self) -> Result<(), String> {
        self.acker.nack(true).await
    }
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("message_id", &self.envelope.message_id)
            .field("redelivered", &self.redelivered)
            .finish_non_exhaustive()
    }
}
