//! The runtime behind every generated `App`: build, bind, serve, shut down.

use std::future::Future;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::http::{HttpLayer, HttpService, Router, UnboundHandler};
use crate::topology::{Binding, Topology};
use crate::{Config, Error, Result};

/// The bindings of a block with their handlers, before state exists.
#[doc(hidden)]
pub struct Routes<S> {
    topology: Topology,
    handlers: Vec<(&'static Binding, UnboundHandler<S>)>,
}

/// A handler checked against its binding, its type erased.
#[doc(hidden)]
pub struct Handler<S>(pub(crate) UnboundHandler<S>);

impl<S> Routes<S> {
    #[doc(hidden)]
    pub fn new(topology: Topology) -> Self {
        Routes {
            topology,
            handlers: Vec::new(),
        }
    }

    /// Adds the handler of the `index`th binding.
    #[doc(hidden)]
    pub fn add(&mut self, index: usize, handler: Handler<S>) {
        let binding = &self.topology.bindings()[index];
        self.handlers.push((binding, handler.0));
    }
}

/// A built service, ready to serve.
#[doc(hidden)]
pub struct Runtime<S> {
    config: Arc<Config>,
    service: HttpService,
    topology: Topology,
    _state: PhantomData<fn() -> S>,
}

impl<S: Send + Sync + 'static> Runtime<S> {
    #[doc(hidden)]
    pub fn new(config: Config, state: S, routes: Routes<S>) -> Result<Self> {
        crate::telemetry::init(&config.log_filter);
        let state = Arc::new(state);
        let handlers = routes
            .handlers
            .into_iter()
            .map(|(binding, unbound)| (binding, unbound(Arc::clone(&state))))
            .collect();
        let router = Router::new(handlers, config.body_limit).map_err(Error::topology)?;
        Ok(Runtime {
            config: Arc::new(config),
            service: HttpService::new(router),
            topology: routes.topology,
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
        tracing::info!(topology = %self.topology, "evently listening on http://{addr}");

        let (trigger, triggered) = oneshot::channel::<()>();
        let task = tokio::spawn(crate::http::server::serve(
            listener,
            self.service,
            self.config,
            async move {
                // A dropped `Running` shuts the server down too.
                let _ = triggered.await;
            },
        ));
        Ok(Running {
            addr,
            trigger: Some(trigger),
            task,
        })
    }
}

/// A service serving in the background, from `App::start`.
///
/// Dropping it shuts the service down without waiting.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    trigger: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    /// The address the HTTP listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets in-flight requests finish within the shutdown
    /// deadline, and returns once the server has stopped.
    pub async fn shutdown(mut self) {
        if let Some(trigger) = self.trigger.take() {
            let _ = trigger.send(());
        }
        if let Err(error) = (&mut self.task).await {
            tracing::error!(error = %error, "the server task failed");
        }
        tracing::info!("evently stopped");
    }
}

/// Completes on Ctrl-C or, on Unix, SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(error = %error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received"),
        () = terminate => tracing::info!("SIGTERM received"),
    }
}
