//! AMQP: consuming from and publishing to RabbitMQ, or to the in-process
//! `memory://` broker with the same semantics.
//!
//! Where things happen: `broker` is the one face of both brokers, `rabbit`
//! the supervised lapin connection (reconnection, declarations, confirms),
//! `memory` the in-process broker, `consumer` the ack path (decode, handle,
//! publish, ack; retry; dead-letter), `acks` the acks a consumer sends
//! together, `producer` the `produce` resources and
//! the outbox of `once_finished` messages, `handler` the handler traits.

mod acks;
mod broker;
mod client;
mod confirms;
pub(crate) mod consumer;
mod envelope;
mod handler;
mod memory;
mod producer;
mod rabbit;
mod subscription;
mod url;

pub use client::{BrokerClient, Received};
pub use handler::{AmqpHandler, DecodeError, FromMessage, HandlerResult, Message, MessageParts};
pub use producer::{Outgoing, ProduceError, Producer};
pub use subscription::{Delivery, Subscription};

pub(crate) use broker::{Broker, Declarations, Readiness};
pub(crate) use envelope::ExchangeKind;
pub(crate) use handler::BoxedAmqpHandler;
pub(crate) use producer::Invocation;
pub(crate) use url::BrokerUrl;
