//! Consuming a queue: decode, run the handler, publish what it produced,
//! then ack; on failure retry, and in the end dead-letter.
//!
//! The order of the success path is what gives at-least-once delivery end to
//! end: a message is acked only after its handler succeeded and every
//! message the handler produced `once_finished` was confirmed by the broker.
//! If the process dies anywhere before the ack, the broker delivers the
//! message again.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

use super::broker::{Broker, Consumer, Incoming, Readiness};
use super::envelope::{Envelope, HeaderValue};
use super::handler::{BoxedAmqpHandler, MessageParts};
use super::producer::{Invocation, message_id};
use crate::metrics::ConsumerStats;
use crate::topology::{Consume, Subscribe};

/// The header counting attempts, starting at 1.
pub(crate) const ATTEMPT: &str = "x-evently-attempt";
/// Why a message was dead-lettered, or why its last attempt failed.
pub(crate) const REASON: &str = "x-evently-reason";
/// The queue a dead-lettered message was consumed from.
pub(crate) const QUEUE: &str = "x-evently-queue";

/// Where a consumer's messages come from.
#[derive(Clone, Copy)]
pub(crate) enum Source {
    /// A named, durable queue: `amqp consume`.
    Queue(&'static Consume),
    /// A queue of this instance's own, bound to an exchange: `amqp
    /// subscribe`. A new one is declared on each connection.
    Subscription(&'static Subscribe),
}

impl Source {
    fn dead_letter_queue(self) -> String {
        match self {
            Source::Queue(consume) => consume.dead_letter_queue(),
            Source::Subscription(subscribe) => subscribe.dead_letter_queue(),
        }
    }

    /// The binding's own prefetch; a subscription takes the service's.
    pub(crate) fn prefetch(self) -> Option<u16> {
        match self {
            Source::Queue(consume) => consume.prefetch(),
            Source::Subscription(_) => None,
        }
    }

    /// The binding's own attempts; a subscription takes the service's.
    pub(crate) fn attempts(self) -> Option<u32> {
        match self {
            Source::Queue(consume) => consume.attempts(),
            Source::Subscription(_) => None,
        }
    }

    /// What the logs and metrics call it.
    pub(crate) fn describe(self) -> String {
        match self {
            Source::Queue(consume) => consume.queue().to_owned(),
            Source::Subscription(subscribe) => {
                let exchange = subscribe.exchange();
                format!(
                    "a subscription to {} {:?}",
                    exchange.kind(),
                    exchange.name()
                )
            }
        }
    }
}

/// One `amqp consume` or `amqp subscribe` binding, ready to run.
pub(crate) struct QueueConsumer {
    pub(crate) source: Source,
    pub(crate) handler: BoxedAmqpHandler,
    pub(crate) broker: Broker,
    /// Told when a subscription's queue is bound, and when it is lost.
    pub(crate) readiness: Readiness,
    pub(crate) stats: Arc<ConsumerStats>,
    pub(crate) prefetch: u16,
    pub(crate) attempts: u32,
    pub(crate) retry_delay: Duration,
}

impl QueueConsumer {
    /// Consumes until `stop` turns true, consuming again whenever the
    /// connection is lost; then waits for the handlers in flight, at most
    /// `deadline`.
    pub(crate) async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>, deadline: Duration) {
        let source = self.source.describe();
        let mut in_flight = JoinSet::new();
        let mut consumer: Option<Consumer> = None;
        while !*stop.borrow() {
            let opened = match self.source {
                Source::Queue(consume) => self
                    .broker
                    .consume(consume.queue(), self.prefetch)
                    .await
                    .map(|consumer| (consumer, Arc::from(consume.queue()))),
                Source::Subscription(subscribe) => {
                    let exchange = subscribe.exchange();
                    self.broker
                        .subscribe(exchange.name(), exchange.key(), self.prefetch)
                        .await
                        .map(|consumer| {
                            let queue = Arc::from(consumer.queue());
                            (consumer, queue)
                        })
                }
            };
            let (mut current, queue): (Consumer, Arc<str>) = match opened {
                Ok((consumer, queue)) => (consumer.acking_together(), queue),
                Err(error) => {
                    tracing::warn!(source, error = %error, "cannot consume, trying again");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(500)) => continue,
                        _ = stop.changed() => break,
                    }
                }
            };
            tracing::debug!(source, queue = &*queue, "consuming");
            let subscribed = matches!(self.source, Source::Subscription(_));
            if subscribed {
                self.readiness.bound();
            }

            // One wait for the stop signal for the whole session, rather than
            // a new one per delivery.
            let mut stopping = std::pin::pin!(stop.changed());
            let stopped = loop {
                tokio::select! {
                    incoming = current.next() => match incoming {
                        Some(incoming) => {
                            // Forget the handlers that finished since the last
                            // delivery; being woken for each would cost a
                            // turn of this loop per message.
                            while in_flight.try_join_next().is_some() {}
                            // Boxed, so that the task itself stays small: the
                            // future of one message runs to kilobytes, and the
                            // runtime copies a task's contents as it spawns,
                            // finishes and joins it.
                            let this = Arc::clone(&self);
                            let queue = Arc::clone(&queue);
                            in_flight.spawn(Box::pin(async move {
                                this.handle(incoming, &queue).await
                            }));
                        }
                        // The connection went away: consume again once it is back.
                        None => {
                            if subscribed {
                                self.readiness.unbound();
                            }
                            break false;
                        }
                    },
                    _ = &mut stopping => break true,
                }
            };
            if stopped {
                consumer = Some(current);
                break;
            }
        }

        // Take no more messages, but keep the channel open so the handlers in
        // flight can still ack theirs.
        if let Some(current) = &mut consumer {
            current.cancel().await;
        }
        let drained = tokio::time::timeout(deadline, async {
            while in_flight.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                source,
                in_flight = in_flight.len(),
                "shutdown deadline passed with handlers running; their messages will be redelivered"
            );
            in_flight.shutdown().await;
        }
        if let Some(consumer) = consumer {
            consumer.finish().await;
        }
    }

    /// Handles one message taken from `queue`.
    async fn handle(&self, incoming: Incoming, queue: &str) {
        let Incoming {
            envelope,
            redelivered,
            acker,
        } = incoming;
        ConsumerStats::count(&self.stats.consumed);
        let attempt = match envelope.headers.get(ATTEMPT) {
            Some(HeaderValue::Int(n)) => u32::try_from(*n).unwrap_or(1).max(1),
            _ => 1,
        };
        let span = tracing::debug_span!(
            "message",
            queue,
            message_id = envelope.message_id.as_deref().unwrap_or(""),
            correlation_id = envelope.correlation_id.as_deref().unwrap_or(""),
            attempt,
        );
        async move {
            // Effects carry the cause's correlation id, or its message id.
            let correlation_id = envelope
                .correlation_id
                .clone()
                .or(envelope.message_id.clone());
            let invocation = Invocation::new(self.broker.clone(), correlation_id);
            let parts = MessageParts {
                envelope,
                redelivered,
            };

            let started = (self.handler)(&parts, &invocation);
            let future = match started {
                Ok(future) => future,
                Err(error) => {
                    // Retrying cannot make a message decode: dead-letter it now.
                    let reason = format!("undecodable: {error}");
                    tracing::warn!(reason, "message dead-lettered");
                    let settled = self
                        .dead_letter(parts.envelope, queue, &reason, attempt)
                        .await;
                    return settle(acker, settled, &self.stats, &self.stats.dead_lettered).await;
                }
            };

            let failure = match AssertUnwindSafe(future).catch_unwind().await {
                Ok(Ok(())) => match invocation.flush().await {
                    Ok(()) => None,
                    Err(error) => Some(format!("its messages were not published: {error}")),
                },
                Ok(Err(error)) => Some(error),
                Err(panic) => Some(format!(
                    "handler panicked: {}",
                    crate::panics::message(&*panic)
                )),
            };
            let Some(reason) = failure else {
                return settle(acker, Ok(()), &self.stats, &self.stats.acked).await;
            };
            invocation.discard();

            if attempt < self.attempts {
                tracing::warn!(reason, attempt, "handler failed, retrying");
                tokio::time::sleep(self.retry_delay).await;
                let settled = self
                    .retry(parts.envelope, queue, &reason, attempt + 1)
                    .await;
                settle(acker, settled, &self.stats, &self.stats.retried).await;
            } else {
                tracing::error!(
                    reason,
                    attempt,
                    "handler failed for the last time, message dead-lettered"
                );
                let settled = self
                    .dead_letter(parts.envelope, queue, &reason, attempt)
                    .await;
                settle(acker, settled, &self.stats, &self.stats.dead_lettered).await;
            }
        }
        .instrument(span)
        .await;
    }

    /// Puts a copy at the back of the queue with the attempt counted.
    async fn retry(
        &self,
        mut envelope: Envelope,
        queue: &str,
        reason: &str,
        attempt: u32,
    ) -> Result<(), String> {
        envelope
            .headers
            .insert(ATTEMPT.into(), HeaderValue::Int(i64::from(attempt)));
        envelope
            .headers
            .insert(REASON.into(), HeaderValue::Text(reason.to_owned()));
        self.broker
            .publish("", queue, envelope)
            .await
            .map_err(|e| e.to_string())
    }

    async fn dead_letter(
        &self,
        mut envelope: Envelope,
        queue: &str,
        reason: &str,
        attempt: u32,
    ) -> Result<(), String> {
        if envelope.message_id.is_none() {
            envelope.message_id = Some(message_id());
        }
        envelope
            .headers
            .insert(ATTEMPT.into(), HeaderValue::Int(i64::from(attempt)));
        envelope
            .headers
            .insert(REASON.into(), HeaderValue::Text(reason.to_owned()));
        envelope
            .headers
            .insert(QUEUE.into(), HeaderValue::Text(queue.to_owned()));
        let queue = self.source.dead_letter_queue();
        self.broker
            .publish("", &queue, envelope)
            .await
            .map_err(|e| e.to_string())
    }
}

/// Acks once the message's fate is recorded; otherwise hands it back to the
/// broker, so it is delivered again rather than lost.
/// `outcome` counts a message whose fate was recorded; `stats.requeued`
/// one handed back.
async fn settle(
    acker: super::broker::Acker,
    recorded: Result<(), String>,
    stats: &ConsumerStats,
    outcome: &AtomicU64,
) {
    let settled = match recorded {
        Ok(()) => {
            let acked = acker.ack().await;
            if acked.is_ok() {
                ConsumerStats::count(outcome);
            }
            acked
        }
        Err(error) => {
            ConsumerStats::count(&stats.requeued);
            tracing::error!(
                error,
                "could not record the message's fate, returning it to the queue"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
            acker.nack(true).await
        }
    };
    if let Err(error) = settled {
        // The channel is gone; the broker delivers the message again.
        tracing::debug!(error, "could not settle the message");
    }
}
