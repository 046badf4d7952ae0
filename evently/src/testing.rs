//! Testing a service in process: requests, WebSockets and messages, with no
//! socket and no broker.
//!
//! `App::test()` starts the service as `start` does, consumers included,
//! but opens no listener: each request of a [`TestApp`] travels over an
//! in-memory pipe to the same hyper connection code a TCP client reaches,
//! so limits, errors, upgrades and streaming behave as they do in
//! production. With the default `memory://` broker,
//! [`TestApp::broker`] publishes into queues and reads what the service
//! produced.
//!
//! ```
//! use evently::prelude::*;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Order {
//!     item: String,
//! }
//!
//! evently! {
//!     rest POST "/orders" + amqp produce "orders" => place;
//!     http GET "/hello" => hello;
//! }
//!
//! async fn place(Json(order): Json<Order>, orders: Producer) -> StatusCode {
//!     match orders.send(&order).await {
//!         Ok(()) => StatusCode::ACCEPTED,
//!         Err(_) => StatusCode::SERVICE_UNAVAILABLE,
//!     }
//! }
//!
//! async fn hello() -> &'static str {
//!     "Hello World"
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let app = App::with_config(evently::Config::default()).unwrap().test().await.unwrap();
//!
//! let hello = app.get("/hello").send().await;
//! assert_eq!(hello.status(), 200);
//! assert_eq!(hello.text(), "Hello World");
//!
//! let placed = app.post("/orders").json(&Order { item: "tea".into() }).send().await;
//! assert_eq!(placed.status(), 202);
//! let orders = app.broker().unwrap().take("orders", 1, std::time::Duration::from_secs(1)).await;
//! assert_eq!(orders[0].json()["item"], "tea");
//! app.shutdown().await;
//! # }
//! ```

use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Config;
use crate::amqp::BrokerClient;
use crate::app::Running;
use crate::http::HttpService;

/// The size of each in-memory pipe between a test client and the service.
const PIPE: usize = 64 * 1024;

/// A service running in process, for tests; see the [module](self).
pub struct TestApp {
    running: Running,
    service: HttpService,
    builder: Arc<auto::Builder<TokioExecutor>>,
}

/// A WebSocket session with the service, over an in-memory pipe: a
/// `Stream` and `Sink` of [`WsMessage`]s.
pub type TestSocket = tokio_tungstenite::WebSocketStream<tokio::io::DuplexStream>;

/// A WebSocket message, as a [`TestSocket`] sends and receives it.
pub use tokio_tungstenite::tungstenite::Message as WsMessage;

impl TestApp {
    pub(crate) fn new(running: Running, service: HttpService, config: &Config) -> Self {
        TestApp {
            running,
            service,
            builder: Arc::new(crate::http::server::builder(config)),
        }
    }

    /// A request with `method` to `path` (with its query string, if any).
    pub fn request(&self, method: Method, path: &str) -> TestRequest<'_> {
        TestRequest {
            app: self,
            method,
            path: path.to_owned(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    /// A `GET` request.
    pub fn get(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::GET, path)
    }

    /// A `POST` request.
    pub fn post(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::POST, path)
    }

    /// A `PUT` request.
    pub fn put(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::PUT, path)
    }

    /// A `PATCH` request.
    pub fn patch(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::PATCH, path)
    }

    /// A `DELETE` request.
    pub fn delete(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::DELETE, path)
    }

    /// Opens a WebSocket session on `path`.
    ///
    /// # Errors
    ///
    /// When the service refuses the upgrade: the error carries its answer.
    pub async fn ws(
        &self,
        path: &str,
    ) -> Result<TestSocket, tokio_tungstenite::tungstenite::Error> {
        let client = self.connect();
        let url = format!("ws://evently.test{path}");
        let (socket, _) = tokio_tungstenite::client_async(url, client).await?;
        Ok(socket)
    }

    /// The client's end of a new in-memory connection, the service serving
    /// the other end.
    fn connect(&self) -> tokio::io::DuplexStream {
        let (client, server) = tokio::io::duplex(PIPE);
        tokio::spawn(crate::http::server::serve_io(
            &self.builder,
            server,
            self.service.clone(),
        ));
        client
    }

    /// A client of the service's broker: publish into a queue, read what
    /// the service produced. `None` when the block uses no broker.
    pub fn broker(&self) -> Option<BrokerClient> {
        self.running.broker()
    }

    /// Whether the service is ready, as `/_evently/ready` tells.
    pub fn is_ready(&self) -> bool {
        self.running.is_ready()
    }

    /// Stops the service as `Running::shutdown` does.
    pub async fn shutdown(self) {
        self.running.shutdown().await;
    }
}

/// A request being built; [`send`](TestRequest::send) it.
pub struct TestRequest<'a> {
    app: &'a TestApp,
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl TestRequest<'_> {
    /// Adds a header.
    ///
    /// # Panics
    ///
    /// When the name or the value is not valid in HTTP.
    #[must_use]
    #[track_caller]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = HeaderName::try_from(name).expect("a valid header name");
        let value = HeaderValue::try_from(value).expect("a valid header value");
        self.headers.append(name, value);
        self
    }

    /// Sends `value` as a JSON body.
    ///
    /// # Panics
    ///
    /// When `value` cannot be encoded as JSON.
    #[must_use]
    #[track_caller]
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        self.body = serde_json::to_vec(value).expect("JSON-encodable").into();
        self.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        self
    }

    /// Sends `body` as it is.
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Sends the request and reads the whole answer.
    ///
    /// # Panics
    ///
    /// When the service breaks the connection without answering, which
    /// it does not do to a well-formed request.
    pub async fn send(self) -> TestResponse {
        let client = self.app.connect();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(client))
            .await
            .expect("the in-process connection opens");
        tokio::spawn(async move {
            let _ = connection.await;
        });

        let mut request = Request::builder()
            .method(self.method)
            .uri(&self.path)
            .header(http::header::HOST, "evently.test")
            .body(Full::new(self.body))
            .expect("a valid request");
        request.headers_mut().extend(self.headers);
        let response = sender
            .send_request(request)
            .await
            .expect("the service answers");
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map(|collected| collected.to_bytes())
            .unwrap_or_default();
        TestResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }
}

/// The whole answer to a [`TestRequest`].
#[derive(Debug)]
pub struct TestResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl TestResponse {
    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// A header's value as text, if it has one.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    /// The body.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body as text (lossily, if it is not UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body decoded from JSON.
    ///
    /// # Panics
    ///
    /// When the body is not JSON of `T`'s shape; the message shows it.
    #[track_caller]
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "the body is not the JSON expected ({error}): {}",
                self.text()
            )
        })
    }
}
