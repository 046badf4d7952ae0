//! evently: one block declares a microservice's whole topology, the compiler
//! checks every handler against its binding, and one tokio runtime serves it.
//!
//! ```no_run
//! use evently::prelude::*;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize)]
//! struct HelloRequest {
//!     name: String,
//! }
//!
//! #[derive(Serialize)]
//! struct HelloReply {
//!     message: String,
//! }
//!
//! evently! {
//!     http GET "/hello" => hello_page;
//!     rest POST "/api/hello" => hello;
//!     rest GET "/api/hello/{name}" => hello_by_name;
//! }
//!
//! async fn hello_page() -> Html<&'static str> {
//!     Html("<h1>Hello World</h1>")
//! }
//!
//! async fn hello(Json(request): Json<HelloRequest>) -> Json<HelloReply> {
//!     Json(HelloReply { message: format!("Hello {}", request.name) })
//! }
//!
//! async fn hello_by_name(Path(name): Path<String>) -> Json<HelloReply> {
//!     Json(HelloReply { message: format!("Hello {name}") })
//! }
//!
//! #[tokio::main]
//! async fn main() -> evently::Result<()> {
//!     App::from_env()?.run().await
//! }
//! ```
//!
//! # The block
//!
//! A block is a list of items, each ended by `;`. A **binding** is an
//! **entry** (what starts the handler), then `+` **resources** handed to the
//! handler, then `=>` and the handler's path:
//!
//! ```text
//! block     = item*
//! item      = "state" Type ";"
//!           | entry ("+" resource)* "=>" path::to::handler ";"
//!
//! entry     = "http" METHOD "/path/{param}"      pages and text
//!           | "rest" METHOD "/path/{param}"      typed JSON
//!           | "ws" "/path"                       a WebSocket
//!           | "soap" "/path" Operation           a SOAP operation
//!           | "grpc" "package.Service/Method"    a gRPC method
//!           | "amqp" source                      messages from RabbitMQ
//! METHOD    = GET | POST | PUT | PATCH | DELETE | HEAD | OPTIONS
//!
//! resource  = "amqp"? "produce" target mode? ("as" name)?
//!           | "amqp"? source
//! source    = "consume" "queue" ("exchange" "name" ("key" "routing.key")?)? ("prefetch" N)?
//!           | "subscribe" "exchange" ("key" "routing.key")?
//! target    = "queue" | "exchange" "name" ("key" "routing.key")?
//! mode      = "once_finished" | "instantly"
//! ```
//!
//! Path templates name parameters in braces: `{id}` fills one segment,
//! `{*rest}` the rest of the path. `state T;` declares shared state: the
//! generated `App::from_env` then takes a `T`, and handlers receive it as
//! `State<T>`.
//!
//! This version serves `http` and `rest` entries. The other entries and the
//! AMQP resources are part of the grammar, and a block that uses them fails
//! to compile with an error saying so, rather than building a service that
//! silently ignores them.
//!
//! # What the compiler checks
//!
//! - the grammar, with the error on the offending token: an unknown protocol
//!   or method, a missing `=>`, a malformed path template;
//! - conflicts, all reported at once: the same method and path twice
//!   (parameter names do not count), the same SOAP operation or gRPC method
//!   twice, a resource name used twice in one binding, a state type declared
//!   twice;
//! - that each handler fits its binding: every parameter an extractor, at
//!   most one reading the body, a return type that is a response, `State<T>`
//!   only for declared `T`. The error lands on the handler's name in the
//!   block and says what an `http` or `rest` handler looks like.
//!
//! When the block has errors, a stub `App` is generated beside them, so code
//! that uses `App` does not add errors of its own. To see what a block
//! expands to, run `cargo expand` on its module.
//!
//! # Handlers
//!
//! A handler is an `async fn`. Its parameters are extractors, in any order:
//! [`Json<T>`](http::Json) (a JSON body), [`Path<T>`](http::Path) (path
//! parameters), [`Query<T>`](http::Query), [`State<T>`](http::State),
//! [`HeaderMap`](http::HeaderMap), [`Method`](http::Method),
//! [`Uri`](http::Uri), `String` and `Bytes` (the raw body), or your own
//! [`FromRequest`](http::FromRequest) types. It returns anything that is
//! [`IntoResponse`](http::IntoResponse): `String` or `&str` (text),
//! [`Html`](http::Html), [`Json`](http::Json), a [`StatusCode`](http::StatusCode),
//! `(StatusCode, T)`, [`Problem`](http::Problem), or a `Result` of those.
//!
//! # Errors clients get
//!
//! | the request | the answer |
//! |---|---|
//! | malformed JSON | 400 |
//! | a path parameter or query that does not parse | 400 |
//! | no `content-type: application/json` on a JSON body | 415 |
//! | JSON that does not fit the type | 422, naming the field |
//! | no route for the path | 404 |
//! | a method the path does not answer | 405, with `Allow` |
//! | a body over the limit | 413 |
//! | a head over the limit, or too many headers | 431 |
//! | a head not sent within the timeout | the connection is closed |
//! | a handler that panics | 500, logged with its route; the server goes on |
//!
//! Behind `rest` bindings errors are `application/problem+json`; behind
//! `http` bindings they are plain text. `HEAD` is answered by the `GET`
//! handler without the body, and `OPTIONS` with the `Allow` header, unless
//! the block binds them itself.
//!
//! # Running
//!
//! `App::from_env()` reads [`Config`] from the environment; `run` serves
//! until SIGTERM or Ctrl-C, then stops accepting, lets in-flight requests
//! finish within the shutdown deadline and returns `Ok`, so the process exits
//! 0. `start` serves in the background and returns a [`Running`] handle,
//! which tests use. The HTTP side is a `tower::Service`: `App::layer` wraps it
//! in any `tower` layer, such as those of `tower-http`.
//!
//! Logs go through `tracing`, filtered by `RUST_LOG` (default `info`): one
//! line at startup with the address and the topology, one span per request
//! (at debug level) carrying the method, route and handler.

#[macro_use]
mod arity;

pub mod amqp;
mod app;
mod config;
mod error;
pub mod http;
mod state;
mod telemetry;
mod topology;

pub use app::Running;
pub use config::Config;
pub use error::{Error, Result};
pub use evently_dsl::evently;
pub use topology::{Binding, Consume, Entry, ExchangeBinding, Produce, Protocol, Topology};

/// What a service module needs: `use evently::prelude::*;`.
pub mod prelude {
    pub use crate::amqp::{Message, Producer};
    pub use crate::evently;
    pub use crate::http::{
        HeaderMap, Html, IntoResponse, Json, Path, Problem, Query, State, StatusCode,
    };
}

/// What generated code refers to. Not public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    use std::sync::Arc;

    use crate::amqp::AmqpHandler;
    use crate::app::HandlerKind;
    use crate::http::HttpHandler;
    use crate::topology::{Binding, Consume, Entry, ExchangeBinding, Produce, Topology};

    pub use crate::app::{Handler, Routes, Runtime};
    pub use crate::http::HttpLayer;
    pub use crate::state::HasState;

    /// Checks that `handler` fits an `http` or `rest` binding with `P`
    /// producers.
    pub fn http_handler<H, Args, S, const P: usize>(handler: H) -> Handler<S>
    where
        H: HttpHandler<Args, S, P>,
        S: Send + Sync + 'static,
    {
        Handler(HandlerKind::Http(crate::http::unbound::<H, Args, S, P>(
            handler,
        )))
    }

    /// Checks that `handler` fits an `amqp consume` binding with `P`
    /// producers.
    pub fn amqp_handler<H, Args, S, const P: usize>(handler: H) -> Handler<S>
    where
        H: AmqpHandler<Args, S, P>,
        S: Send + Sync + 'static,
    {
        Handler(HandlerKind::Amqp(Box::new(
            move |state: Arc<S>, resources: &'static [Produce]| {
                assert_eq!(resources.len(), P, "one producer per resource");
                Arc::new(
                    move |message: &_, invocation: &Arc<crate::amqp::Invocation>| {
                        let producers = std::array::from_fn(|i| invocation.producer(&resources[i]));
                        handler.call(message, &state, producers)
                    },
                ) as crate::amqp::BoxedAmqpHandler
            },
        )))
    }

    pub const fn http_binding(
        rest: bool,
        method: &'static str,
        path: &'static str,
        resources: &'static [Produce],
        handler: &'static str,
    ) -> Binding {
        Binding::new(Entry::Http { rest, method, path }, resources, handler)
    }

    pub const fn consume_binding(
        queue: &'static str,
        exchange: Option<ExchangeBinding>,
        prefetch: Option<u16>,
        resources: &'static [Produce],
        handler: &'static str,
    ) -> Binding {
        Binding::new(
            Entry::Consume(Consume::new(queue, exchange, prefetch)),
            resources,
            handler,
        )
    }

    pub const fn exchange(
        name: &'static str,
        kind: &'static str,
        key: &'static str,
    ) -> ExchangeBinding {
        ExchangeBinding::new(name, kind, key)
    }

    pub const fn produce(
        name: Option<&'static str>,
        queue: Option<&'static str>,
        exchange: Option<ExchangeBinding>,
        instantly: bool,
    ) -> Produce {
        Produce::new(name, queue, exchange, instantly)
    }

    pub const fn topology(bindings: &'static [Binding]) -> Topology {
        Topology::new(bindings)
    }
}
