//! The runtime behind every generated `App`: build, bind, serve, shut down.

use std::future::Future;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::amqp::Readiness;
use crate::amqp::consumer::{QueueConsumer, Source};
use crate::amqp::{BoxedAmqpHandler, Broker, Declarations, ExchangeKind};
use crate::http::{HttpLayer, HttpService, Router, UnboundHandler};
use crate::metrics::Metrics;
use crate::openapi::DescribeFn;
use crate::topology::{Binding, Entry, Resource, Topology};
use crate::ws::Hub;
use crate::{Config, Error, Result};

/// The bindings of a block with their handlers, before state exists.
#[doc(hidden)]
pub struct Routes<S> {
    topology: Topology,
    handlers: Vec<(&'static Binding, Handler<S>)>,
    /// The service's name and version, for its OpenAPI document.
    name: (&'static str, &'static str),
}

/// A handler checked against its binding, its type erased.
#[doc(hidden)]
pub struct Handler<S> {
    pub(crate) kind: HandlerKind<S>,
    /// Describes an `http` or `rest` handler for the OpenAPI document.
    pub(crate) describe: Option<DescribeFn>,
}

impl<S> Handler<S> {
    pub(crate) fn new(kind: HandlerKind<S>) -> Self {
        Handler {
            kind,
            describe: None,
        }
    }
}

pub(crate) enum HandlerKind<S> {
    Http(UnboundHandler<S>),
    Amqp(UnboundAmqpHandler<S>),
    Soap(crate::soap::UnboundOperation<S>),
}

/// What a handler is bound with, besides the state.
pub(crate) struct BindContext {
    pub(crate) resources: &'static [Resource],
    pub(crate) broker: Option<Broker>,
    pub(crate) ws: Arc<Hub>,
    pub(crate) prefetch: u16,
}

/// An AMQP handler waiting for its state.
pub(crate) type UnboundAmqpHandler<S> =
    Box<dyn FnOnce(Arc<S>, &'static [Resource]) -> BoxedAmqpHandler + Send>;

impl<S> Routes<S> {
    #[doc(hidden)]
    pub fn new(topology: Topology) -> Self {
        Routes {
            topology,
            handlers: Vec::new(),
            name: ("evently service", "0.0.0"),
        }
    }

    /// Names the service and its version.
    #[doc(hidden)]
    pub fn named(mut self, name: &'static str, version: &'static str) -> Self {
        self.name = (name, version);
        self
    }

    /// Adds the handler of the `index`th binding.
    #[doc(hidden)]
    pub fn add(&mut self, index: usize, handler: Handler<S>) {
        let binding = &self.topology.bindings()[index];
        self.handlers.push((binding, handler));
    }
}

/// A built service, ready to serve.
#[doc(hidden)]
pub struct Runtime<S> {
    config: Arc<Config>,
    service: HttpService,
    topology: Topology,
    broker: Option<Broker>,
    readiness: Readiness,
    consumers: Vec<QueueConsumer>,
    trigger: watch::Sender<bool>,
    hub: Arc<Hub>,
    _state: PhantomData<fn() -> S>,
}

impl<S: Send + Sync + 'static> Runtime<S> {
    #[doc(hidden)]
    pub fn new(config: Config, state: S, routes: Routes<S>) -> Result<Self> {
        crate::telemetry::init(&config.log_filter);
        let topology = routes.topology;
        let broker = if topology.uses_broker() {
            let declarations = declarations(&topology);
            let broker = Broker::start(&config.amqp_url, config.broker_timeout, declarations, None)
                .map_err(|e| Error::topology(vec![e]))?;
            Some(broker)
        } else {
            None
        };

        // One signal stops everything: the listener, the consumers and the
        // WebSocket sessions.
        let (trigger, triggered) = watch::channel(false);
        let hub = Hub::new(&config, triggered);
        let subscriptions = topology
            .bindings()
            .iter()
            .filter(|b| matches!(b.entry(), Entry::Subscribe(_)))
            .count();
        let readiness = Readiness::new(broker.clone(), subscriptions);
        let metrics = Metrics::new(Arc::clone(&hub), broker.clone());
        let state = Arc::new(state);
        let (name, version) = routes.name;
        let mut described = Vec::new();
        let mut messages = Vec::new();
        let mut http = Vec::new();
        let mut consumers = Vec::new();
        let mut soap = Vec::new();
        for (binding, handler) in routes.handlers {
            let resources = binding.resources();
            match handler.describe {
                Some(describe) if binding.method().is_some() => described.push((binding, describe)),
                Some(describe) => messages.push((binding, describe)),
                None => {}
            }
            match (handler.kind, binding.entry()) {
                (HandlerKind::Http(unbound), _) => {
                    let context = BindContext {
                        resources,
                        broker: broker.clone(),
                        ws: Arc::clone(&hub),
                        prefetch: config.prefetch,
                    };
                    http.push((binding, unbound(Arc::clone(&state), context)));
                }
                (HandlerKind::Amqp(unbound), entry) => {
                    let source = match entry {
                        Entry::Consume(consume) => Source::Queue(consume),
                        Entry::Subscribe(subscribe) => Source::Subscription(subscribe),
                        _ => unreachable!("AMQP handlers are bound to consumers"),
                    };
                    consumers.push(QueueConsumer {
                        source,
                        handler: unbound(Arc::clone(&state), resources),
                        broker: broker.clone().expect("a consumer implies a broker"),
                        readiness: readiness.clone(),
                        stats: metrics.consumer(source.describe()),
                        prefetch: source.prefetch().unwrap_or(config.prefetch),
                        attempts: source.attempts().unwrap_or(config.retry_attempts),
                        retry_delay: config.retry_delay,
                    });
                }
                (HandlerKind::Soap(unbound), Entry::Soap { path, operation }) => {
                    let context = BindContext {
                        resources,
                        broker: broker.clone(),
                        ws: Arc::clone(&hub),
                        prefetch: config.prefetch,
                    };
                    let operation = unbound(Arc::clone(&state), context, operation);
                    soap.push((binding, *path, operation));
                }
                (HandlerKind::Soap(_), _) => unreachable!("SOAP handlers are bound to operations"),
            }
        }
        http.extend(soap_endpoints(soap).map_err(Error::topology)?);
        if let Some(health) = crate::grpc::health::handler(&topology, readiness.clone()) {
            let context = BindContext {
                resources: &[],
                broker: None,
                ws: Arc::clone(&hub),
                prefetch: config.prefetch,
            };
            let binding = &crate::grpc::health::CHECK;
            http.push((binding, health(Arc::clone(&state), context)));
        }
        let about = crate::contracts::About {
            title: name,
            version,
            broker: broker.as_ref().map(|_| config.amqp_url.to_string()),
            http: config.http_addr.to_string(),
        };
        let documents = crate::contracts::Documents {
            openapi: crate::openapi::document(name, version, &described),
            asyncapi: crate::contracts::asyncapi(&about, &topology, &messages),
            topology: crate::contracts::topology_page(&about, &topology),
        };
        let router = Router::new(
            http,
            config.body_limit,
            readiness.clone(),
            metrics,
            documents,
        )
        .map_err(Error::topology)?;
        Ok(Runtime {
            config: Arc::new(config),
            service: HttpService::new(router),
            topology,
            broker,
            readiness,
            consumers,
            trigger,
            hub,
            _state: PhantomData,
        })
    }

    #[doc(hidden)]
    pub fn layer(mut self, layer: impl HttpLayer) -> Self {
        self.service = layer.wrap(self.service);
        self
    }

    #[doc(hidden)]
    pub fn into_service(self) -> HttpService {
        self.service
    }

    #[doc(hidden)]
    pub async fn run(self) -> Result<()> {
        self.run_until(shutdown_signal()).await
    }

    #[doc(hidden)]
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let running = self.start().await?;
        shutdown.await;
        running.shutdown().await;
        Ok(())
    }

    #[doc(hidden)]
    pub async fn start(self) -> Result<Running> {
        let addr = self.config.http_addr;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| Error::bind(addr, e))?;
        let addr = listener.local_addr().map_err(|e| Error::bind(addr, e))?;
        match &self.broker {
            Some(_) => tracing::info!(
                topology = %self.topology,
                broker = %self.config.amqp_url,
                "evently listening on http://{addr}"
            ),
            None => tracing::info!(topology = %self.topology, "evently listening on http://{addr}"),
        }

        let (mut running, service, config) = self.launch(addr);
        let mut http_stop = running.trigger.subscribe();
        running.tasks.spawn(crate::http::server::serve(
            listener,
            service,
            config,
            async move {
                // A dropped `Running` shuts the server down too.
                let _ = http_stop.wait_for(|stop| *stop).await;
            },
        ));
        Ok(running)
    }

    /// Starts the consumers, and everything else but the HTTP listener.
    fn launch(self, addr: SocketAddr) -> (Running, HttpService, Arc<Config>) {
        let trigger = self.trigger;
        let triggered = trigger.subscribe();
        let deadline = self.config.shutdown_timeout;
        let mut tasks = JoinSet::new();
        for consumer in self.consumers {
            tasks.spawn(Arc::new(consumer).run(triggered.clone(), deadline));
        }
        let running = Running {
            addr,
            trigger,
            tasks,
            broker: self.broker,
            readiness: self.readiness,
            hub: self.hub,
            deadline,
        };
        (running, self.service, self.config)
    }

    #[doc(hidden)]
    pub async fn test(self) -> Result<crate::testing::TestApp> {
        tracing::debug!(topology = %self.topology, "evently started in process, for tests");
        let addr = self.config.http_addr;
        let (running, service, config) = self.launch(addr);
        Ok(crate::testing::TestApp::new(running, service, &config))
    }
}

/// The SOAP operations grouped into one endpoint per path, in the order
/// the paths first appear.
type SoapOperations = Vec<(&'static Binding, &'static str, crate::soap::Operation)>;

fn soap_endpoints(
    operations: SoapOperations,
) -> std::result::Result<Vec<(&'static Binding, crate::http::BoxedHandler)>, Vec<String>> {
    let mut paths: Vec<(&'static Binding, &'static str, Vec<crate::soap::Operation>)> = Vec::new();
    for (binding, path, operation) in operations {
        match paths.iter_mut().find(|(_, p, _)| *p == path) {
            Some((_, _, group)) => group.push(operation),
            None => paths.push((binding, path, vec![operation])),
        }
    }
    let mut endpoints = Vec::new();
    let mut problems = Vec::new();
    for (binding, path, group) in paths {
        match crate::soap::endpoint(path, group) {
            Ok(handler) => endpoints.push((binding, handler)),
            Err(problem) => problems.push(problem),
        }
    }
    if problems.is_empty() {
        Ok(endpoints)
    } else {
        Err(problems)
    }
}

/// What the topology declares on the broker: every queue consumed or
/// produced to, its dead-letter queue, and the exchanges and bindings.
fn declarations(topology: &Topology) -> Declarations {
    let mut declarations = Declarations::default();
    let kind = |name: &str| match name {
        "fanout" => ExchangeKind::Fanout,
        "direct" => ExchangeKind::Direct,
        _ => ExchangeKind::Topic,
    };
    for binding in topology.bindings() {
        match binding.entry() {
            Entry::Consume(consume) => {
                for queue in [consume.queue(), &consume.dead_letter_queue()] {
                    if consume.quorum() {
                        declarations.quorum_queue(queue);
                    } else {
                        declarations.queue(queue);
                    }
                }
                if let Some(exchange) = consume.exchange() {
                    declarations.exchange(exchange.name(), kind(exchange.kind()));
                    declarations.bind(consume.queue(), exchange.name(), exchange.key());
                }
            }
            // The subscription's own queue is declared by each connection.
            Entry::Subscribe(subscribe) => {
                let exchange = subscribe.exchange();
                declarations.exchange(exchange.name(), kind(exchange.kind()));
                declarations.queue(&subscribe.dead_letter_queue());
            }
            _ => {}
        }
        for resource in binding.resources() {
            match resource {
                Resource::Produce(produce) => {
                    if let Some(queue) = produce.queue() {
                        declarations.queue(queue);
                    }
                    if let Some(exchange) = produce.exchange_binding() {
                        declarations.exchange(exchange.name(), kind(exchange.kind()));
                    }
                }
                // A subscription's own queue is declared by each session.
                Resource::Source(source) => {
                    match source.queue() {
                        Some(queue) if source.quorum() => declarations.quorum_queue(queue),
                        Some(queue) => declarations.queue(queue),
                        None => {}
                    }
                    if let Some(exchange) = source.exchange() {
                        declarations.exchange(exchange.name(), kind(exchange.kind()));
                        if let Some(queue) = source.queue() {
                            declarations.bind(queue, exchange.name(), exchange.key());
                        }
                    }
                }
            }
        }
    }
    declarations
}

/// A service serving in the background, from `App::start`.
///
/// Dropping it shuts the service down without waiting.
pub struct Running {
    addr: SocketAddr,
    trigger: watch::Sender<bool>,
    tasks: JoinSet<()>,
    broker: Option<Broker>,
    readiness: Readiness,
    hub: Arc<Hub>,
    deadline: std::time::Duration,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Running {
    /// The address the HTTP listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the service can do all its work: with a broker, whether it
    /// is connected and every `amqp subscribe` queue is bound.
    pub fn is_ready(&self) -> bool {
        self.readiness.not_ready().is_none()
    }

    /// A client of the service's broker, for tests and tools: publish into a
    /// queue, read what the service produced.
    pub fn broker(&self) -> Option<crate::amqp::BrokerClient> {
        self.broker.clone().map(crate::amqp::BrokerClient::new)
    }

    /// Stops accepting requests and messages, lets the ones in flight finish
    /// within the shutdown deadline, publishes and acks what they leave, and
    /// returns once everything has stopped.
    pub async fn shutdown(mut self) {
        let _ = self.trigger.send(true);
        while let Some(result) = self.tasks.join_next().await {
            if let Err(error) = result {
                tracing::error!(error = %error, "a service task failed");
            }
        }
        self.hub.drained(self.deadline).await;
        if let Some(broker) = &self.broker {
            broker.close().await;
        }
        tracing::info!("evently stopped");
    }
}

/// Completes on Ctrl-C or, on Unix, SIGTERM.
/// Completes on SIGTERM or Ctrl-C. The handlers are installed when this is
/// called, not when the future is first polled, so a signal that arrives
/// while the service is still starting is not left to its default action,
/// which would kill the process.
fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind: SignalKind, name: &'static str| {
            signal(kind)
                .inspect_err(|error| tracing::error!(error = %error, "cannot listen for {name}"))
                .ok()
        };
        let interrupt = listen(SignalKind::interrupt(), "Ctrl-C");
        let terminate = listen(SignalKind::terminate(), "SIGTERM");
        async move {
            let wait = |signal: Option<tokio::signal::unix::Signal>| async move {
                match signal {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(interrupt) => tracing::info!("Ctrl-C received"),
                () = wait(terminate) => tracing::info!("SIGTERM received"),
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
        tracing::info!("Ctrl-C received");
    }
}
