//! A small client of a service's broker, for tests and tools.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;

use super::broker::Broker;
use super::envelope::{Envelope, HeaderValue};
use super::producer::ProduceError;

/// Publishes into the service's broker and reads what the service
/// produced, whichever broker it is (`Running::broker`).
#[derive(Clone)]
pub struct BrokerClient {
    broker: Broker,
}

/// A message read from a queue.
#[derive(Clone, Debug)]
pub struct Received {
    /// The raw payload.
    pub payload: Bytes,
    /// The message id.
    pub message_id: Option<String>,
    /// The correlation id.
    pub correlation_id: Option<String>,
    /// When the message was published, in seconds since the Unix epoch.
    pub timestamp: Option<u64>,
    /// The content type, `application/json` for what evently publishes.
    pub content_type: Option<String>,
    /// Text headers, such as `x-evently-reason` on a dead-lettered message.
    pub headers: Vec<(String, String)>,
}

impl Received {
    /// The payload as JSON, or `Null` when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).unwrap_or(serde_json::Value::Null)
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl BrokerClient {
    pub(crate) fn new(broker: Broker) -> Self {
        BrokerClient { broker }
    }

    /// Publishes `message` as JSON to `queue` and returns its message id once
    /// the broker confirmed it.
    ///
    /// # Errors
    ///
    /// When the message cannot be encoded or the broker does not confirm it.
    pub async fn publish<T: Serialize + ?Sized>(
        &self,
        queue: &str,
        message: &T,
    ) -> Result<String, ProduceError> {
        let payload = serde_json::to_vec(message).map_err(ProduceError::encode)?;
        self.publish_bytes("", queue, payload.into()).await
    }

    /// Publishes raw bytes through `exchange` (`""` for the default one) with
    /// `routing_key`, and returns the message id once confirmed.
    ///
    /// # Errors
    ///
    /// When the broker does not confirm the message.
    pub async fn publish_bytes(
        &self,
        exchange: &str,
        routing_key: &str,
        payload: Bytes,
    ) -> Result<String, ProduceError> {
        self.publish_envelope(exchange, routing_key, payload, Default::default())
            .await
    }

    /// Publishes raw bytes to `queue` with text `headers`, and returns the
    /// message id once confirmed.
    ///
    /// # Errors
    ///
    /// When the broker does not confirm the message.
    pub async fn publish_with_headers(
        &self,
        queue: &str,
        payload: Bytes,
        headers: &[(&str, &str)],
    ) -> Result<String, ProduceError> {
        let headers = headers
            .iter()
            .map(|(name, value)| ((*name).to_owned(), HeaderValue::Text((*value).to_owned())))
            .collect();
        self.publish_envelope("", queue, payload, headers).await
    }

    /// Publishes a JSON message with a fresh id and the current time.
    async fn publish_envelope(
        &self,
        exchange: &str,
        routing_key: &str,
        payload: Bytes,
        headers: BTreeMap<String, HeaderValue>,
    ) -> Result<String, ProduceError> {
        let envelope = Envelope::json(payload, None, headers);
        let id = envelope.message_id.clone().unwrap_or_default();
        self.broker
            .publish(exchange, routing_key, envelope)
            .await
            .map_err(ProduceError::publish)?;
        Ok(id)
    }

    /// Takes up to `count` messages from `queue`, acking them, waiting at
    /// most `wait` for the next one.
    pub async fn take(&self, queue: &str, count: usize, wait: Duration) -> Vec<Received> {
        let mut received = Vec::new();
        let prefetch = u16::try_from(count.clamp(1, 1000)).unwrap_or(1000);
        while received.len() < count {
            let Ok(mut consumer) = self.broker.consume(queue, prefetch).await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            while received.len() < count {
                let Ok(Some(incoming)) = tokio::time::timeout(wait, consumer.next()).await else {
                    consumer.cancel().await;
                    return received;
                };
                let envelope = incoming.envelope;
                let acked = incoming.acker.ack().await;
                if acked.is_err() {
                    // The channel went away: the message will come back.
                    break;
                }
                received.push(Received {
                    payload: envelope.payload,
                    message_id: envelope.message_id,
                    correlation_id: envelope.correlation_id,
                    timestamp: envelope.timestamp,
                    content_type: envelope.content_type,
                    headers: envelope
                        .headers
                        .into_iter()
                        .map(|(name, value)| match value {
                            HeaderValue::Text(text) => (name, text),
                            HeaderValue::Int(n) => (name, n.to_string()),
                        })
                        .collect(),
                });
            }
            consumer.cancel().await;
        }
        received
    }
}
