//! The listener: accept, serve each connection, shut down gracefully.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::head_timer::HeadTimer;
use super::{HttpFuture, HttpService, RequestBody};
use crate::Config;

/// The service as hyper calls it, once per request.
#[derive(Clone)]
struct Connection(HttpService);

impl hyper::service::Service<http::Request<Incoming>> for Connection {
    type Response = super::Response;
    type Error = Infallible;
    type Future = HttpFuture;

    fn call(&self, req: http::Request<Incoming>) -> HttpFuture {
        self.0.dispatch(req.map(RequestBody::from))
    }
}

/// The header count hyper enforces when it is not given one.
const HYPER_MAX_HEADERS: usize = 100;

/// Serves one connection over `io`, as the listener serves a TCP one.
pub(crate) fn serve_io<I>(
    builder: &auto::Builder<TokioExecutor>,
    io: I,
    service: HttpService,
) -> impl Future<Output = ()> + Send + 'static
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let connection = builder
        .serve_connection_with_upgrades(TokioIo::new(io), Connection(service))
        .into_owned();
    async move {
        if let Err(error) = connection.await {
            tracing::debug!(error = %error, "in-process connection ended with an error");
        }
    }
}

/// Must be called within the runtime: it starts the head timer's task.
pub(crate) fn builder(config: &Config) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    let mut http1 = builder.http1();
    http1
        .timer(HeadTimer::start(config.header_timeout))
        .header_read_timeout(config.header_timeout)
        .max_buf_size(config.header_limit)
        .keep_alive(true);
    // Left unset, hyper parses into slots on the stack; set, it fills a
    // vector of slots for every request head, which costs more than the
    // rest of the parse. Same limit either way.
    if config.max_headers != HYPER_MAX_HEADERS {
        http1.max_headers(config.max_headers);
    }
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(config.header_limit).unwrap_or(u32::MAX));
    builder
}

/// Serves connections until `shutdown` completes, then stops accepting,
/// lets open connections finish their requests within the configured
/// deadline, and returns.
pub(crate) async fn serve(
    listener: TcpListener,
    service: HttpService,
    config: Arc<Config>,
    shutdown: impl Future<Output = ()>,
) {
    let builder = Arc::new(builder(&config));
    let (closing, closing_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);

    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, typically: back off instead of
                    // spinning, and keep serving the connections we have.
                    tracing::error!(error = %error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            Some(_) = connections.join_next() => continue,
            () = &mut shutdown => break,
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(error = %error, "TCP_NODELAY could not be set");
        }

        let builder = Arc::clone(&builder);
        let service = Connection(service.clone());
        let mut closing = closing_rx.clone();
        let signal = closing_rx.clone();
        connections.spawn(async move {
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            tokio::pin!(connection);
            // The connection is polled for every request; the shutdown
            // signal's waiter only once, and again when the signal moved
            // (reading its version takes no lock). This task is the only
            // one that polls it, so its first registration stays valid.
            let mut stop = std::pin::pin!(closing.changed());
            let mut registered = false;
            let served = std::future::poll_fn(|cx| {
                if let Poll::Ready(result) = connection.as_mut().poll(cx) {
                    return Poll::Ready(Some(result));
                }
                if !registered || signal.has_changed().unwrap_or(true) {
                    registered = true;
                    if stop.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(None);
                    }
                }
                Poll::Pending
            })
            .await;
            let result = match served {
                Some(result) => result,
                None => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = result {
                log_connection_error(&*error, peer);
            }
        });
    }

    // Stop accepting: the listener closes here, so new clients are refused
    // rather than left waiting.
    drop(listener);
    tracing::info!(open_connections = connections.len(), "shutting down");

    // Ask every connection to finish its in-flight requests and close.
    let _ = closing.send(true);
    let drained = tokio::time::timeout(config.shutdown_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open_connections = connections.len(),
            "shutdown deadline passed, closing the remaining connections"
        );
        connections.shutdown().await;
    }
}

fn log_connection_error(error: &(dyn std::error::Error + 'static), peer: std::net::SocketAddr) {
    match error.downcast_ref::<hyper::Error>() {
        // Idle keep-alive connections end this way too, so this is no warning.
        Some(e) if e.is_timeout() => {
            tracing::debug!(%peer, "no request head within the timeout, connection closed");
        }
        Some(e) if e.is_parse_too_large() => {
            tracing::warn!(%peer, "request head too large, answered 431");
        }
        Some(e) if e.is_parse() => {
            tracing::warn!(%peer, error = %e, "malformed request, answered 400");
        }
        _ => tracing::debug!(%peer, error = %error, "connection ended with an error"),
    }
}
