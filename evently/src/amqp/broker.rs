//! One face for both brokers: the in-process one and RabbitMQ.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicNackOptions};

use super::acks::{Acks, Ticket};
use super::envelope::{Envelope, ExchangeKind};
use super::memory::{MemoryAcker, MemoryBroker, MemoryConsumer, MemoryError};
use super::rabbit::Rabbit;
use super::url::BrokerUrl;

/// Everything a service declares on the broker, whichever broker it is.
#[derive(Clone, Debug, Default)]
pub(crate) struct Declarations {
    pub(crate) queues: Vec<String>,
    /// Queues declared quorum queues; the others are classic. A queue any
    /// binding marks `quorum` is one for every binding that names it, since
    /// RabbitMQ refuses to declare one queue with two types.
    pub(crate) quorum: Vec<String>,
    pub(crate) exchanges: Vec<(String, ExchangeKind)>,
    /// `(queue, exchange, binding key)`
    pub(crate) bindings: Vec<(String, String, String)>,
}

impl Declarations {
    pub(crate) fn queue(&mut self, name: &str) {
        if !self.queues.iter().any(|q| q == name) {
            self.queues.push(name.to_owned());
        }
    }

    /// Declares `name` a quorum queue.
    pub(crate) fn quorum_queue(&mut self, name: &str) {
        self.queue(name);
        if !self.quorum.iter().any(|q| q == name) {
            self.quorum.push(name.to_owned());
        }
    }

    pub(crate) fn exchange(&mut self, name: &str, kind: ExchangeKind) {
        if !self.exchanges.iter().any(|(e, _)| e == name) {
            self.exchanges.push((name.to_owned(), kind));
        }
    }

    pub(crate) fn bind(&mut self, queue: &str, exchange: &str, key: &str) {
        let binding = (queue.to_owned(), exchange.to_owned(), key.to_owned());
        if !self.bindings.contains(&binding) {
            self.bindings.push(binding);
        }
    }
}

/// Why a publish did not go out.
#[derive(Clone, Debug)]
pub(crate) enum PublishError {
    /// No queue is bound for the message.
    Unroutable {
        exchange: String,
        routing_key: String,
    },
    /// The broker took the message and said no.
    Refused,
    /// No connection, or the broker did not answer in time.
    Unavailable(String),
}

impl std::fmt::Display for PublishError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PublishError::Unroutable {
                exchange,
                routing_key,
            } if exchange.is_empty() => write!(f, "no queue named {routing_key:?}"),
            PublishError::Unroutable {
                exchange,
                routing_key,
            } => write!(
                f,
                "no queue is bound to exchange {exchange:?} for {routing_key:?}"
            ),
            PublishError::Refused => f.write_str("the broker refused the message"),
            PublishError::Unavailable(reason) => write!(f, "the broker is unavailable: {reason}"),
        }
    }
}

/// The broker a service talks to.
#[derive(Clone)]
pub(crate) enum Broker {
    Memory(MemoryBroker),
    Rabbit(Arc<Rabbit>),
}

impl Broker {
    /// Connects (RabbitMQ: in the background, with recovery) and declares.
    pub(crate) fn start(
        url: &BrokerUrl,
        timeout: std::time::Duration,
        declarations: Declarations,
        memory: Option<MemoryBroker>,
    ) -> Result<Broker, String> {
        match url {
            BrokerUrl::Memory => {
                let broker = memory.unwrap_or_default();
                for queue in &declarations.queues {
                    broker.declare_queue(queue);
                }
                for (name, kind) in &declarations.exchanges {
                    broker
                        .declare_exchange(name, *kind)
                        .map_err(|e| e.to_string())?;
                }
                for (queue, exchange, key) in &declarations.bindings {
                    broker
                        .bind(queue, exchange, key)
                        .map_err(|e| e.to_string())?;
                }
                Ok(Broker::Memory(broker))
            }
            BrokerUrl::Amqp { .. } => Ok(Broker::Rabbit(Rabbit::start(url, timeout, declarations))),
        }
    }

    /// Connections made to the broker so far; the memory broker counts as
    /// one.
    pub(crate) fn connections(&self) -> u64 {
        match self {
            Broker::Memory(_) => 1,
            Broker::Rabbit(rabbit) => rabbit.connections(),
        }
    }

    pub(crate) fn is_ready(&self) -> bool {
        match self {
            Broker::Memory(_) => true,
            Broker::Rabbit(rabbit) => rabbit.is_connected(),
        }
    }

    /// Publishes and waits for the broker's confirmation.
    pub(crate) async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        envelope: Envelope,
    ) -> Result<(), PublishError> {
        match self {
            Broker::Memory(memory) => {
                memory
                    .publish(exchange, routing_key, envelope)
                    .map_err(|error| match error {
                        MemoryError::Unroutable {
                            exchange,
                            routing_key,
                        } => PublishError::Unroutable {
                            exchange,
                            routing_key,
                        },
                        MemoryError::NoExchange(exchange) => PublishError::Unroutable {
                            exchange,
                            routing_key: routing_key.to_owned(),
                        },
                        other => PublishError::Unavailable(other.to_string()),
                    })
            }
            Broker::Rabbit(rabbit) => rabbit.publish(exchange, routing_key, &envelope).await,
        }
    }

    pub(crate) async fn consume(
        &self,
        queue: &str,
        prefetch: u16,
    ) -> Result<Consumer, PublishError> {
        match self {
            Broker::Memory(memory) => memory
                .consume(queue, prefetch)
                .map(Consumer::Memory)
                .map_err(|e| PublishError::Unavailable(e.to_string())),
            Broker::Rabbit(rabbit) => {
                let (channel, consumer) = rabbit.consume(queue, prefetch).await?;
                Ok(Consumer::Rabbit(Box::new(RabbitConsumer {
                    consumer,
                    channel,
                    rabbit: Arc::clone(rabbit),
                    acks: None,
                })))
            }
        }
    }

    /// Consumes from a queue of its own, bound to `exchange` with `key`,
    /// that disappears with the consumer.
    pub(crate) async fn subscribe(
        &self,
        exchange: &str,
        key: &str,
        prefetch: u16,
    ) -> Result<Consumer, PublishError> {
        let unavailable = |e: MemoryError| PublishError::Unavailable(e.to_string());
        match self {
            Broker::Memory(memory) => {
                let queue = memory.declare_exclusive_queue();
                memory.bind(&queue, exchange, key).map_err(unavailable)?;
                memory
                    .consume(&queue, prefetch)
                    .map(Consumer::Memory)
                    .map_err(unavailable)
            }
            Broker::Rabbit(rabbit) => {
                let (channel, consumer) = rabbit.subscribe(exchange, key, prefetch).await?;
                Ok(Consumer::Rabbit(Box::new(RabbitConsumer {
                    consumer,
                    channel,
                    rabbit: Arc::clone(rabbit),
                    acks: None,
                })))
            }
        }
    }

    pub(crate) async fn close(&self) {
        match self {
            Broker::Memory(memory) => memory.close(),
            Broker::Rabbit(rabbit) => rabbit.close().await,
        }
    }
}

/// Whether a service can do its broker work: connected, and with every
/// subscription's queue bound, so that nothing published to a subscribed
/// exchange is dropped for want of a queue.
#[derive(Clone)]
pub(crate) struct Readiness {
    broker: Option<Broker>,
    unbound: Arc<AtomicUsize>,
}

impl Readiness {
    /// Readiness of a service with `subscriptions` subscriptions, none bound
    /// yet.
    pub(crate) fn new(broker: Option<Broker>, subscriptions: usize) -> Self {
        Readiness {
            broker,
            unbound: Arc::new(AtomicUsize::new(subscriptions)),
        }
    }

    /// `None` when ready, else why not.
    pub(crate) fn not_ready(&self) -> Option<&'static str> {
        match &self.broker {
            None => None,
            Some(broker) if !broker.is_ready() => Some("not connected to the broker"),
            Some(_) if self.unbound.load(Ordering::Acquire) > 0 => {
                Some("subscribing to the broker's exchanges")
            }
            Some(_) => None,
        }
    }

    /// A subscription's queue is bound.
    pub(crate) fn bound(&self) {
        self.unbound.fetch_sub(1, Ordering::AcqRel);
    }

    /// A subscription lost its queue, with its connection.
    pub(crate) fn unbound(&self) {
        self.unbound.fetch_add(1, Ordering::AcqRel);
    }
}

/// A stream of deliveries from one queue.
pub(crate) enum Consumer {
    Memory(MemoryConsumer),
    Rabbit(Box<RabbitConsumer>),
}

/// A lapin consumer with the channel it consumes on.
pub(crate) struct RabbitConsumer {
    consumer: lapin::Consumer,
    channel: lapin::Channel,
    rabbit: Arc<Rabbit>,
    /// Whether deliveries are acked together; see `acks`.
    acks: Option<Acks>,
}

impl Drop for RabbitConsumer {
    /// Closing the channel hands every unacked delivery back to the broker,
    /// and deletes a subscription's exclusive queue; what was settled is
    /// sent before.
    fn drop(&mut self) {
        let channel = self.channel.clone();
        let acks = self.acks.take();
        let timeout = self.rabbit.timeout();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Some(acks) = acks {
                    acks.finish(timeout).await;
                }
                let closed = channel.close(200, "consumer done".into());
                let _ = tokio::time::timeout(timeout, closed).await;
            });
        }
    }
}

/// A message taken from a queue, to be acked or nacked.
pub(crate) struct Incoming {
    pub(crate) envelope: Envelope,
    pub(crate) redelivered: bool,
    pub(crate) acker: Acker,
}

impl Consumer {
    /// The next delivery; `None` when the consumer ended (cancelled, or its
    /// connection failed: the caller consumes again).
    pub(crate) async fn next(&mut self) -> Option<Incoming> {
        match self {
            Consumer::Memory(consumer) => consumer.next().await.map(|delivery| Incoming {
                envelope: delivery.envelope,
                redelivered: delivery.redelivered,
                acker: Acker::Memory(delivery.acker),
            }),
            Consumer::Rabbit(rabbit) => match rabbit.consumer.next().await {
                Some(Ok(delivery)) => Some(Incoming {
                    envelope: super::rabbit::envelope(&delivery.properties, delivery.data),
                    redelivered: delivery.redelivered,
                    acker: match &rabbit.acks {
                        Some(acks) => {
                            Acker::Together(acks.delivered(delivery.delivery_tag, delivery.acker))
                        }
                        None => Acker::Rabbit(delivery.acker),
                    },
                }),
                Some(Err(error)) => {
                    tracing::debug!(error = %error, "consumer failed");
                    rabbit.rabbit.consumer_failed();
                    None
                }
                None => {
                    rabbit.rabbit.consumer_failed();
                    None
                }
            },
        }
    }
}

impl Consumer {
    /// Acks the deliveries that are settled together, a burst at a time;
    /// called before the first delivery is taken. See `acks`.
    pub(crate) fn acking_together(mut self) -> Self {
        if let Consumer::Rabbit(rabbit) = &mut self
            && rabbit.acks.is_none()
        {
            rabbit.acks = Some(Acks::start());
        }
        self
    }

    /// Sends the acks and nacks still due, then lets the channel close. Only
    /// needed after [`Consumer::acking_together`]: every other ack was sent
    /// when it was awaited.
    pub(crate) async fn finish(mut self) {
        if let Consumer::Rabbit(rabbit) = &mut self
            && let Some(acks) = rabbit.acks.take()
        {
            acks.finish(rabbit.rabbit.timeout()).await;
        }
    }

    /// The queue consumed, named by the broker for a subscription.
    pub(crate) fn queue(&self) -> String {
        match self {
            Consumer::Memory(consumer) => consumer.queue().to_owned(),
            Consumer::Rabbit(rabbit) => rabbit.consumer.queue().to_string(),
        }
    }

    /// Stops deliveries; those already received can still be settled.
    pub(crate) async fn cancel(&mut self) {
        match self {
            Consumer::Memory(consumer) => consumer.cancel(),
            Consumer::Rabbit(rabbit) => {
                let tag = rabbit.consumer.tag();
                let cancelled = rabbit.channel.basic_cancel(tag, Default::default());
                if tokio::time::timeout(rabbit.rabbit.timeout(), cancelled)
                    .await
                    .is_err()
                {
                    tracing::debug!("cancelling the consumer timed out");
                }
            }
        }
    }
}

/// Settles one delivery.
pub(crate) enum Acker {
    Memory(MemoryAcker),
    Rabbit(lapin::Acker),
    /// Of a RabbitMQ consumer acking together: settled at once, sent by the
    /// consumer's acking task.
    Together(Ticket),
}

impl Acker {
    /// Acks. A failure means the channel is gone and the broker will
    /// deliver the message again.
    pub(crate) async fn ack(self) -> Result<(), String> {
        match self {
            Acker::Memory(acker) => acker.ack().map_err(|e| e.to_string()),
            Acker::Rabbit(acker) => acker
                .ack(BasicAckOptions::default())
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            Acker::Together(ticket) => ticket.ack(),
        }
    }

    pub(crate) async fn nack(self, requeue: bool) -> Result<(), String> {
        match self {
            Acker::Memory(acker) => acker.nack(requeue).map_err(|e| e.to_string()),
            Acker::Rabbit(acker) => acker
                .nack(BasicNackOptions {
                    requeue,
                    ..BasicNackOptions::default()
                })
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            Acker::Together(ticket) => ticket.nack(requeue),
        }
    }
}
