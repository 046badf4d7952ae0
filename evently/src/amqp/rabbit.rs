//! RabbitMQ through lapin: one supervised connection that comes back.
//!
//! A supervisor task owns the connection. It connects, declares the whole
//! topology, then publishes the live session on a watch channel; publishers
//! and consumers take the session from there. When the connection fails
//! (the broker closed it, it restarted, or heartbeats went unanswered) the
//! session is withdrawn, so readiness turns false and publishers wait, and the
//! supervisor reconnects with backoff. Every wait has a bound.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use tokio::sync::{Notify, watch};

use super::broker::{Declarations, PublishError};
use super::confirms::{Confirms, Outcome};
use super::envelope::{Envelope, ExchangeKind, HeaderValue};
use super::url::BrokerUrl;

/// A live connection with its confirming publisher channel.
pub(crate) struct Session {
    generation: u64,
    connection: Connection,
    publisher: Channel,
    /// Settles the publisher channel's confirmations, returns included.
    confirms: Confirms,
}

pub(crate) struct Rabbit {
    url: String,
    display: BrokerUrl,
    timeout: Duration,
    declarations: Declarations,
    session: watch::Sender<Option<Arc<Session>>>,
    /// Wakes the supervisor when a user of the session saw it fail.
    broken: Notify,
    closing: watch::Sender<bool>,
    consumer_tags: AtomicU64,
    connections: AtomicU64,
}

impl Rabbit {
    /// Starts the supervisor; the first connection is made in the background.
    pub(crate) fn start(
        url: &BrokerUrl,
        timeout: Duration,
        declarations: Declarations,
    ) -> Arc<Self> {
        let BrokerUrl::Amqp { url: raw, .. } = url else {
            unreachable!("the memory broker is not a RabbitMQ URL");
        };
        let rabbit = Arc::new(Rabbit {
            url: with_heartbeat(raw),
            display: url.clone(),
            timeout,
            declarations,
            session: watch::Sender::new(None),
            broken: Notify::new(),
            closing: watch::Sender::new(false),
            consumer_tags: AtomicU64::new(0),
            connections: AtomicU64::new(0),
        });
        tokio::spawn(Arc::clone(&rabbit).supervise());
        rabbit
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Connections made so far.
    pub(crate) fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.session.borrow().is_some()
    }

    /// Stops reconnecting and closes the connection.
    pub(crate) async fn close(&self) {
        let _ = self.closing.send(true);
        let session = self.session.send_replace(None);
        if let Some(session) = session {
            let closed = session.connection.close(200, "shutting down".into());
            let _ = tokio::time::timeout(self.timeout, closed).await;
        }
    }

    async fn supervise(self: Arc<Self>) {
        let mut closing = self.closing.subscribe();
        let mut failures: u32 = 0;
        let mut generation = 0;
        loop {
            if *closing.borrow() {
                return;
            }
            generation += 1;
            let connected = tokio::time::timeout(self.timeout, self.connect(generation)).await;
            match connected {
                Ok(Ok(session)) => {
                    tracing::info!(broker = %self.display, "connected to the broker");
                    self.connections.fetch_add(1, Ordering::Relaxed);
                    failures = 0;
                    let session = Arc::new(session);
                    self.session.send_replace(Some(Arc::clone(&session)));
                    self.watch(&session, &mut closing).await;
                    self.session.send_replace(None);
                    if *closing.borrow() {
                        return;
                    }
                    tracing::warn!(broker = %self.display, "lost the broker connection, reconnecting");
                    drop(session);
                }
                Ok(Err(error)) => {
                    tracing::warn!(broker = %self.display, error = %error, "cannot connect to the broker");
                }
                Err(_) => {
                    tracing::warn!(broker = %self.display, "connecting to the broker timed out");
                }
            }

            // Back off: 100 ms, doubling, at most 5 s.
            let backoff =
                Duration::from_millis(100u64 << failures.min(6)).min(Duration::from_secs(5));
            failures += 1;
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                _ = closing.changed() => return,
            }
        }
    }

    async fn connect(&self, generation: u64) -> lapin::Result<Session> {
        let properties = ConnectionProperties::default().with_connection_name("evently".into());
        let connection = Connection::connect(&self.url, properties).await?;
        let publisher = connection.create_channel().await?;
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        declare(&publisher, &self.declarations).await?;
        Ok(Session {
            generation,
            connection,
            publisher,
            confirms: Confirms::default(),
        })
    }

    /// Returns when the session has failed or the broker is closing.
    async fn watch(&self, session: &Session, closing: &mut watch::Receiver<bool>) {
        let mut events = session.connection.events_listener();
        let mut check = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                event = events.next() => match event {
                    Some(lapin::Event::Error(error)) => {
                        tracing::debug!(error = %error, "broker connection error");
                        return;
                    }
                    Some(_) => {}
                    None => return,
                },
                () = self.broken.notified() => {
                    if !session.connection.status().connected() {
                        return;
                    }
                }
                _ = check.tick() => {
                    if !session.connection.status().connected() {
                        return;
                    }
                }
                _ = closing.changed() => return,
            }
        }
    }

    /// The live session, waiting for a reconnection at most the timeout.
    async fn session(&self) -> Option<Arc<Session>> {
        if let Some(session) = &*self.session.borrow() {
            return Some(Arc::clone(session));
        }
        let mut receiver = self.session.subscribe();
        let waited = tokio::time::timeout(self.timeout, receiver.wait_for(Option::is_some)).await;
        match waited {
            Ok(Ok(session)) => session.clone(),
            _ => None,
        }
    }

    fn report(&self, session: &Session, error: &lapin::Error) {
        tracing::debug!(generation = session.generation, error = %error, "broker operation failed");
        self.broken.notify_one();
    }

    pub(crate) async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        envelope: &Envelope,
    ) -> Result<(), PublishError> {
        let Some(session) = self.session().await else {
            return Err(PublishError::Unavailable(
                "not connected to the broker".into(),
            ));
        };
        let options = BasicPublishOptions {
            mandatory: true,
            immediate: false,
        };
        // One bound for sending and for the broker's confirmation.
        let outcome = tokio::time::timeout(self.timeout, async {
            // The ticket is taken before the publish goes out, so that
            // later publishes wait for it; see `confirms`.
            let ticket = session.confirms.ticket();
            let confirm = session
                .publisher
                .basic_publish(
                    exchange.into(),
                    routing_key.into(),
                    options,
                    &envelope.payload,
                    properties(envelope),
                )
                .await?;
            Ok::<_, lapin::Error>(ticket.sent(envelope.message_id.clone(), confirm).await)
        })
        .await;
        match outcome {
            Err(_) => Err(PublishError::Unavailable(
                "the broker did not confirm in time".into(),
            )),
            Ok(Err(error)) => {
                self.report(&session, &error);
                Err(PublishError::Unavailable(error.to_string()))
            }
            Ok(Ok(Outcome::Failed(error))) => {
                self.broken.notify_one();
                Err(PublishError::Unavailable(error))
            }
            Ok(Ok(Outcome::Routed)) => Ok(()),
            Ok(Ok(Outcome::Returned)) => Err(PublishError::Unroutable {
                exchange: exchange.to_owned(),
                routing_key: routing_key.to_owned(),
            }),
            Ok(Ok(Outcome::Nacked)) => Err(PublishError::Refused),
        }
    }

    /// Starts consuming `queue` on a channel of its own.
    pub(crate) async fn consume(
        &self,
        queue: &str,
        prefetch: u16,
    ) -> Result<(Channel, lapin::Consumer), PublishError> {
        self.on_new_channel(async |channel, tag| {
            channel
                .basic_qos(prefetch, BasicQosOptions::default())
                .await?;
            let options = BasicConsumeOptions::default();
            let consumer = channel
                .basic_consume(queue.into(), tag.into(), options, FieldTable::default())
                .await?;
            Ok((channel, consumer))
        })
        .await
    }

    /// Consumes from a server-named, exclusive, auto-deleted queue bound to
    /// `exchange` with `key`, on a channel of its own.
    pub(crate) async fn subscribe(
        &self,
        exchange: &str,
        key: &str,
        prefetch: u16,
    ) -> Result<(Channel, lapin::Consumer), PublishError> {
        self.on_new_channel(async |channel, tag| {
            let options = QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..QueueDeclareOptions::default()
            };
            let queue = channel
                .queue_declare("".into(), options, FieldTable::default())
                .await?;
            let name = queue.name().clone();
            let bind = QueueBindOptions::default();
            channel
                .queue_bind(
                    name.clone(),
                    exchange.into(),
                    key.into(),
                    bind,
                    FieldTable::default(),
                )
                .await?;
            channel
                .basic_qos(prefetch, BasicQosOptions::default())
                .await?;
            let options = BasicConsumeOptions::default();
            let consumer = channel
                .basic_consume(name, tag.into(), options, FieldTable::default())
                .await?;
            Ok((channel, consumer))
        })
        .await
    }

    /// Opens a channel on the live session and runs `open` on it with a
    /// fresh consumer tag, all within the timeout.
    async fn on_new_channel<T>(
        &self,
        open: impl AsyncFnOnce(Channel, &str) -> lapin::Result<T>,
    ) -> Result<T, PublishError> {
        let Some(session) = self.session().await else {
            return Err(PublishError::Unavailable(
                "not connected to the broker".into(),
            ));
        };
        let tag = format!(
            "evently-{}",
            self.consumer_tags.fetch_add(1, Ordering::Relaxed)
        );
        let opened = tokio::time::timeout(self.timeout, async {
            let channel = session.connection.create_channel().await?;
            open(channel, &tag).await
        })
        .await;
        match opened {
            Ok(Ok(opened)) => Ok(opened),
            Ok(Err(error)) => {
                self.report(&session, &error);
                Err(PublishError::Unavailable(error.to_string()))
            }
            Err(_) => Err(PublishError::Unavailable(
                "the broker did not answer in time".into(),
            )),
        }
    }

    /// Tells the supervisor that a consumer saw its channel fail.
    pub(crate) fn consumer_failed(&self) {
        self.broken.notify_one();
    }
}

/// Declares every queue, exchange and binding, durable.
async fn declare(channel: &Channel, declarations: &Declarations) -> lapin::Result<()> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    for queue in &declarations.queues {
        let mut arguments = FieldTable::default();
        if declarations.quorum.contains(queue) {
            arguments.insert(
                "x-queue-type".into(),
                AMQPValue::LongString("quorum".into()),
            );
        }
        channel
            .queue_declare(queue.as_str().into(), durable, arguments)
            .await?;
    }
    for (name, kind) in &declarations.exchanges {
        let kind = match kind {
            ExchangeKind::Direct => lapin::ExchangeKind::Direct,
            ExchangeKind::Fanout => lapin::ExchangeKind::Fanout,
            ExchangeKind::Topic => lapin::ExchangeKind::Topic,
        };
        let options = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        channel
            .exchange_declare(name.as_str().into(), kind, options, FieldTable::default())
            .await?;
    }
    for (queue, exchange, key) in &declarations.bindings {
        channel
            .queue_bind(
                queue.as_str().into(),
                exchange.as_str().into(),
                key.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}

/// Asks for heartbeats every 10 s unless the URL says otherwise, so a silent
/// peer is noticed in seconds rather than when the OS gives up on TCP.
fn with_heartbeat(url: &str) -> String {
    if url.contains("heartbeat=") {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}heartbeat=10")
}

/// Persistent, with every property evently carries.
fn properties(envelope: &Envelope) -> BasicProperties {
    let mut properties = BasicProperties::default().with_delivery_mode(2);
    if let Some(content_type) = &envelope.content_type {
        properties = properties.with_content_type(content_type.as_str().into());
    }
    if let Some(id) = &envelope.message_id {
        properties = properties.with_message_id(id.as_str().into());
    }
    if let Some(id) = &envelope.correlation_id {
        properties = properties.with_correlation_id(id.as_str().into());
    }
    if let Some(timestamp) = envelope.timestamp {
        properties = properties.with_timestamp(timestamp);
    }
    if !envelope.headers.is_empty() {
        let mut headers = FieldTable::default();
        for (name, value) in &envelope.headers {
            let value = match value {
                HeaderValue::Text(text) => AMQPValue::LongString(LongString::from(text.as_str())),
                HeaderValue::Int(n) => AMQPValue::LongLongInt(*n),
            };
            headers.insert(ShortString::from(name.as_str()), value);
        }
        properties = properties.with_headers(headers);
    }
    properties
}

/// The envelope of a delivery.
pub(crate) fn envelope(properties: &BasicProperties, data: Vec<u8>) -> Envelope {
    let text = |value: &Option<ShortString>| value.as_ref().map(|s| s.as_str().to_owned());
    let mut headers = std::collections::BTreeMap::new();
    if let Some(table) = properties.headers() {
        for (name, value) in table.inner() {
            let value = match value {
                AMQPValue::LongString(s) => HeaderValue::Text(s.to_string()),
                AMQPValue::ShortString(s) => HeaderValue::Text(s.as_str().to_owned()),
                AMQPValue::LongLongInt(n) => HeaderValue::Int(*n),
                AMQPValue::LongInt(n) => HeaderValue::Int(i64::from(*n)),
                AMQPValue::LongUInt(n) => HeaderValue::Int(i64::from(*n)),
                AMQPValue::ShortInt(n) => HeaderValue::Int(i64::from(*n)),
                AMQPValue::ShortUInt(n) => HeaderValue::Int(i64::from(*n)),
                AMQPValue::ShortShortInt(n) => HeaderValue::Int(i64::from(*n)),
                AMQPValue::ShortShortUInt(n) => HeaderValue::Int(i64::from(*n)),
                _ => continue,
            };
            headers.insert(name.as_str().to_owned(), value);
        }
    }
    Envelope {
        payload: bytes::Bytes::from(data),
        message_id: text(properties.message_id()),
        correlation_id: text(properties.correlation_id()),
        timestamp: *properties.timestamp(),
        content_type: text(properties.content_type()),
        headers,
    }
}

#[cfg(test)]
mod tests {
    use super::with_heartbeat;

    #[test]
    fn heartbeats_are_asked_for() {
        assert_eq!(
            with_heartbeat("amqp://h:5672/%2f"),
            "amqp://h:5672/%2f?heartbeat=10"
        );
        assert_eq!(
            with_heartbeat("amqp://h/%2f?frame_max=8192"),
            "amqp://h/%2f?frame_max=8192&heartbeat=10"
        );
        assert_eq!(
            with_heartbeat("amqp://h?heartbeat=3"),
            "amqp://h?heartbeat=3"
        );
    }
}
