//! HTTP and REST: the listener, routing, extractors and responses.
//!
//! One listener serves HTTP/1.1 and HTTP/2 (prior knowledge) on hyper. The
//! limits (body size, head size, header count, head read timeout) are set in
//! [`Config`](crate::Config) and enforced in `server` (the head) and
//! `extract` (the body).

mod body;
mod extract;
mod handler;
mod head_timer;
mod path_de;
mod response;
mod router;
pub(crate) mod server;
mod stream;

use std::convert::Infallible;
use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use tower_layer::Layer;
use tower_service::Service;

pub use body::{Body, BoxError, RequestBody};
pub use extract::{FromRequest, Json, Path, Query, RequestParts, State};
pub use handler::HttpHandler;
pub use http::{HeaderMap, Method, StatusCode, Uri, header};
pub use response::{Html, IntoResponse, Problem, Response};
pub use router::HttpFuture;
pub use stream::{Chunks, Event, Sse};

pub(crate) use handler::{BoxedHandler, ResponseFuture, UnboundHandler, correlation_id, unbound};
pub(crate) use router::Router;

/// The HTTP side of an `App` as a `tower::Service`.
///
/// Get it from `App::into_service` to serve it yourself, or wrap it in place
/// with `App::layer`.
#[derive(Clone)]
pub struct HttpService {
    inner: Inner,
}

type LayeredCall = Arc<dyn Fn(http::Request<RequestBody>) -> handler::ResponseFuture + Send + Sync>;

#[derive(Clone)]
enum Inner {
    Router(Arc<Router>),
    Layered(LayeredCall),
}

impl HttpService {
    pub(crate) fn new(router: Router) -> Self {
        HttpService {
            inner: Inner::Router(Arc::new(router)),
        }
    }

    pub(crate) fn dispatch(&self, req: http::Request<RequestBody>) -> HttpFuture {
        match &self.inner {
            Inner::Router(router) => router.dispatch(req),
            Inner::Layered(call) => HttpFuture::layered(call(req)),
        }
    }

    fn layered<Svc, B>(service: Svc) -> Self
    where
        Svc: Service<http::Request<RequestBody>, Response = http::Response<B>>
            + Clone
            + Send
            + Sync
            + 'static,
        Svc::Future: Send + 'static,
        Svc::Error: Into<BoxError>,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let call = move |req| -> handler::ResponseFuture {
            let mut service = service.clone();
            Box::pin(async move {
                let failed = |error: BoxError| {
                    tracing::error!(error = %error, "http layer failed");
                    Problem::internal("the request could not be handled").into_response()
                };
                if let Err(error) = poll_fn(|cx| service.poll_ready(cx)).await {
                    return failed(error.into());
                }
                match service.call(req).await {
                    Ok(response) => response.map(Body::new),
                    Err(error) => failed(error.into()),
                }
            })
        };
        HttpService {
            inner: Inner::Layered(Arc::new(call)),
        }
    }
}

impl Service<http::Request<RequestBody>> for HttpService {
    type Response = Response;
    type Error = Infallible;
    type Future = HttpFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<RequestBody>) -> HttpFuture {
        self.dispatch(req)
    }
}

/// A `tower` layer that can wrap an [`HttpService`], such as those of
/// `tower-http`. Implemented for every fitting `Layer`.
pub trait HttpLayer: Send + 'static {
    /// Wraps the service.
    fn wrap(self, service: HttpService) -> HttpService;
}

impl<L, Svc, B> HttpLayer for L
where
    L: Layer<HttpService, Service = Svc> + Send + 'static,
    Svc: Service<http::Request<RequestBody>, Response = http::Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    Svc::Future: Send + 'static,
    Svc::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    fn wrap(self, service: HttpService) -> HttpService {
        HttpService::layered(self.layer(service))
    }
}
