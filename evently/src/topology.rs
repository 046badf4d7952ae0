//! The declared topology, as data: what startup logs, readiness and docs are
//! made of.

use std::fmt;

/// Every binding of an `evently!` block, in declaration order.
///
/// Each generated `App` has one as `App::TOPOLOGY`.
#[derive(Clone, Copy, Debug)]
pub struct Topology {
    bindings: &'static [Binding],
}

/// One binding: an entry, the resources handed to its handler, the handler.
#[derive(Debug)]
pub struct Binding {
    entry: Entry,
    resources: &'static [Resource],
    handler: &'static str,
}

/// A `+` resource of a binding.
#[derive(Debug)]
#[non_exhaustive]
pub enum Resource {
    /// `produce`: a [`Producer`](crate::amqp::Producer).
    Produce(Produce),
    /// `consume` or `subscribe`: a
    /// [`Subscription`](crate::amqp::Subscription) for each session.
    Source(Source),
}

/// Where a session's subscription takes messages from: a queue shared with
/// other sessions (`consume "queue"`), or an exclusive queue of its own bound
/// to an exchange (`subscribe "exchange" key "pattern"`).
#[derive(Debug)]
pub struct Source {
    queue: Option<&'static str>,
    quorum: bool,
    exchange: Option<ExchangeBinding>,
}

impl Source {
    pub(crate) const fn new(
        queue: Option<&'static str>,
        quorum: bool,
        exchange: Option<ExchangeBinding>,
    ) -> Self {
        Source {
            queue,
            quorum,
            exchange,
        }
    }

    /// Whether the queue is declared a quorum queue.
    pub fn quorum(&self) -> bool {
        self.quorum
    }

    /// The queue consumed; `None` for a subscription to an exchange.
    pub fn queue(&self) -> Option<&'static str> {
        self.queue
    }

    /// The exchange the queue is bound to, or subscribed to.
    pub fn exchange(&self) -> Option<&ExchangeBinding> {
        self.exchange.as_ref()
    }
}

/// What starts a handler.
#[derive(Debug)]
#[non_exhaustive]
pub enum Entry {
    /// An `http` or `rest` route.
    Http {
        /// Whether it is a `rest` route.
        rest: bool,
        /// The method, such as `GET`.
        method: &'static str,
        /// The path template, such as `/users/{id}`.
        path: &'static str,
    },
    /// `ws "/path"`.
    Ws {
        /// The path template.
        path: &'static str,
    },
    /// `amqp consume "queue"`.
    Consume(Consume),
    /// `amqp subscribe "exchange"`: every running instance of the service
    /// gets its own queue, bound to the exchange.
    Subscribe(Subscribe),
    /// `grpc "package.Service/Method"`: a `POST` route at its path.
    Grpc {
        /// The method, such as `tour.Greeter/SayHello`.
        method: &'static str,
        /// The path it is served at, such as `/tour.Greeter/SayHello`.
        path: &'static str,
    },
    /// `soap "/path" Operation`.
    Soap {
        /// The path of the SOAP service.
        path: &'static str,
        /// The operation's name, which is also its request element's.
        operation: &'static str,
    },
}

/// A queue a handler consumes.
#[derive(Debug)]
pub struct Consume {
    queue: &'static str,
    quorum: bool,
    exchange: Option<ExchangeBinding>,
    prefetch: Option<u16>,
    attempts: Option<u32>,
}

/// An exchange a handler subscribes to. Each running instance consumes from
/// a server-named, exclusive queue of its own, bound to the exchange, which
/// disappears with the instance's connection: one message published to the
/// exchange reaches every instance.
#[derive(Debug)]
pub struct Subscribe {
    exchange: ExchangeBinding,
}

/// An exchange with a routing key.
#[derive(Debug)]
pub struct ExchangeBinding {
    name: &'static str,
    kind: &'static str,
    key: &'static str,
}

/// A `+ produce` resource.
#[derive(Debug)]
pub struct Produce {
    name: Option<&'static str>,
    queue: Option<&'static str>,
    exchange: Option<ExchangeBinding>,
    instantly: bool,
}

/// The protocol of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// `http`: pages and text.
    Http,
    /// `rest`: typed JSON.
    Rest,
    /// `ws`: WebSockets.
    Ws,
    /// `amqp`: messages from a queue.
    Amqp,
    /// `grpc`: gRPC methods.
    Grpc,
    /// `soap`: SOAP operations.
    Soap,
}

impl Topology {
    pub(crate) const fn new(bindings: &'static [Binding]) -> Self {
        Topology { bindings }
    }

    /// The bindings, in declaration order.
    pub fn bindings(&self) -> &'static [Binding] {
        self.bindings
    }

    /// Whether any binding needs the broker.
    pub fn uses_broker(&self) -> bool {
        self.bindings
            .iter()
            .any(|b| b.protocol() == Protocol::Amqp || !b.resources.is_empty())
    }
}

impl fmt::Display for Topology {
    /// A one-line summary, such as `1 http route, 2 rest routes`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for protocol in [
            Protocol::Http,
            Protocol::Rest,
            Protocol::Ws,
            Protocol::Amqp,
            Protocol::Grpc,
            Protocol::Soap,
        ] {
            let count = self
                .bindings
                .iter()
                .filter(|b| b.protocol() == protocol)
                .count();
            if count == 0 {
                continue;
            }
            let noun = match protocol {
                Protocol::Amqp => "consumer",
                Protocol::Grpc => "method",
                Protocol::Soap => "operation",
                _ => "route",
            };
            let plural = if count == 1 { "" } else { "s" };
            let separator = if first { "" } else { ", " };
            write!(f, "{separator}{count} {protocol} {noun}{plural}")?;
            first = false;
        }
        let producers = self
            .bindings
            .iter()
            .flat_map(|b| b.resources)
            .filter(|r| matches!(r, Resource::Produce(_)))
            .count();
        if producers > 0 {
            let plural = if producers == 1 { "" } else { "s" };
            write!(f, ", {producers} producer{plural}")?;
        }
        if first {
            f.write_str("no bindings")?;
        }
        Ok(())
    }
}

impl Binding {
    pub(crate) const fn new(
        entry: Entry,
        resources: &'static [Resource],
        handler: &'static str,
    ) -> Self {
        Binding {
            entry,
            resources,
            handler,
        }
    }

    /// The protocol of the entry.
    pub fn protocol(&self) -> Protocol {
        match self.entry {
            Entry::Http { rest: false, .. } => Protocol::Http,
            Entry::Http { rest: true, .. } => Protocol::Rest,
            Entry::Ws { .. } => Protocol::Ws,
            Entry::Consume(_) | Entry::Subscribe(_) => Protocol::Amqp,
            Entry::Grpc { .. } => Protocol::Grpc,
            Entry::Soap { .. } => Protocol::Soap,
        }
    }

    /// The entry.
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// The resources handed to the handler, in binding order.
    pub fn resources(&self) -> &'static [Resource] {
        self.resources
    }

    /// The HTTP method of an entry served over HTTP (`GET` for `ws`, `POST`
    /// for `soap`, whose path also answers `GET ?wsdl`).
    pub fn method(&self) -> Option<&'static str> {
        match self.entry {
            Entry::Http { method, .. } => Some(method),
            Entry::Ws { .. } => Some("GET"),
            Entry::Grpc { .. } | Entry::Soap { .. } => Some("POST"),
            Entry::Consume(_) | Entry::Subscribe(_) => None,
        }
    }

    /// The path template of an entry served over HTTP.
    pub fn path(&self) -> Option<&'static str> {
        match self.entry {
            Entry::Http { path, .. }
            | Entry::Ws { path }
            | Entry::Grpc { path, .. }
            | Entry::Soap { path, .. } => Some(path),
            Entry::Consume(_) | Entry::Subscribe(_) => None,
        }
    }

    /// The handler's path as written in the block.
    pub fn handler(&self) -> &'static str {
        self.handler
    }
}

impl Subscribe {
    pub(crate) const fn new(exchange: ExchangeBinding) -> Self {
        Subscribe { exchange }
    }

    /// The exchange subscribed to, with its kind and routing key.
    pub fn exchange(&self) -> &ExchangeBinding {
        &self.exchange
    }

    /// Where messages that cannot be handled end up: one durable queue
    /// shared by every instance.
    pub fn dead_letter_queue(&self) -> String {
        format!("{}.dead-letter", self.exchange.name)
    }
}

impl Consume {
    pub(crate) const fn new(
        queue: &'static str,
        quorum: bool,
        exchange: Option<ExchangeBinding>,
        prefetch: Option<u16>,
        attempts: Option<u32>,
    ) -> Self {
        Consume {
            queue,
            quorum,
            exchange,
            prefetch,
            attempts,
        }
    }

    /// Whether the queue, and its dead-letter queue, are declared quorum
    /// queues: replicated across a RabbitMQ cluster's nodes.
    pub fn quorum(&self) -> bool {
        self.quorum
    }

    /// The queue consumed.
    pub fn queue(&self) -> &'static str {
        self.queue
    }

    /// The exchange the queue is bound to, if the binding names one.
    pub fn exchange(&self) -> Option<&ExchangeBinding> {
        self.exchange.as_ref()
    }

    /// The binding's own prefetch, overriding the configured one.
    pub fn prefetch(&self) -> Option<u16> {
        self.prefetch
    }

    /// The binding's own number of attempts before a message is
    /// dead-lettered, overriding the configured one.
    pub fn attempts(&self) -> Option<u32> {
        self.attempts
    }

    /// Where messages that cannot be handled end up.
    pub fn dead_letter_queue(&self) -> String {
        format!("{}.dead-letter", self.queue)
    }
}

impl ExchangeBinding {
    pub(crate) const fn new(name: &'static str, kind: &'static str, key: &'static str) -> Self {
        ExchangeBinding { name, kind, key }
    }

    /// The exchange's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// `topic` (the default), `direct` or `fanout`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The routing key (for consuming: the binding key, patterns allowed).
    pub fn key(&self) -> &'static str {
        self.key
    }
}

impl Produce {
    pub(crate) const fn new(
        name: Option<&'static str>,
        queue: Option<&'static str>,
        exchange: Option<ExchangeBinding>,
        instantly: bool,
    ) -> Self {
        Produce {
            name,
            queue,
            exchange,
            instantly,
        }
    }

    /// The name given with `as name`.
    pub fn name(&self) -> Option<&'static str> {
        self.name
    }

    /// Whether `send` publishes at once (`instantly`) rather than after the
    /// handler succeeded (`once_finished`).
    pub fn instantly(&self) -> bool {
        self.instantly
    }

    /// The queue messages go to, when the target is a queue.
    pub fn queue(&self) -> Option<&'static str> {
        self.queue
    }

    /// The exchange messages go to, when the target is an exchange.
    pub fn exchange_binding(&self) -> Option<&ExchangeBinding> {
        self.exchange.as_ref()
    }

    pub(crate) fn exchange(&self) -> &'static str {
        self.exchange.as_ref().map_or("", |e| e.name)
    }

    pub(crate) fn routing_key(&self) -> &'static str {
        match (&self.exchange, self.queue) {
            (Some(exchange), _) => exchange.key,
            (None, Some(queue)) => queue,
            (None, None) => "",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Http => "http",
            Protocol::Rest => "rest",
            Protocol::Ws => "ws",
            Protocol::Amqp => "amqp",
            Protocol::Grpc => "grpc",
            Protocol::Soap => "soap",
        })
    }
}
