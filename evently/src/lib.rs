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
//! source    = "consume" "queue" "quorum"? ("exchange" "name" ("key" "routing.key")?)? setting*
//!           | "subscribe" "exchange" ("key" "routing.key")?
//! setting   = "prefetch" N | "attempts" N          of an `amqp consume` entry, each once
//! target    = "queue" | "exchange" "name" ("key" "routing.key")?
//! mode      = "once_finished" | "instantly"
//! ```
//!
//! Path templates name parameters in braces: `{id}` fills one segment,
//! `{*rest}` the rest of the path. `state T;` declares shared state: the
//! generated `App::from_env` then takes a `T`, and handlers receive it as
//! `State<T>`.
//!
//! Exchanges are `topic` exchanges unless the binding names the kind:
//! `exchange "chat" fanout` or `exchange "jobs" direct`. Queues are durable
//! classic queues; `consume "orders" quorum` declares a quorum queue
//! (replicated across a RabbitMQ cluster), and its dead-letter queue too.
//!
//! `produce` resources go with every entry; `consume` and `subscribe`
//! resources only with `ws` entries, where each session gets its own
//! consumer. Anywhere else they fail to compile with an error saying so,
//! rather than building a service that silently ignores them.
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
//!   block and says what a handler of that entry (`http` or `rest`, `ws`,
//!   `soap`, `grpc`, `amqp consume` or `subscribe`) looks like.
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
//! # Messages
//!
//! ```no_run
//! use evently::amqp::ProduceError;
//! use evently::prelude::*;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Order {
//!     item: String,
//! }
//!
//! evently! {
//!     rest POST "/orders" + amqp produce "orders" => place_order;
//!     amqp consume "orders" + produce "invoices" + produce "audit" instantly => on_order;
//! }
//!
//! async fn place_order(Json(order): Json<Order>, orders: Producer) -> StatusCode {
//!     match orders.send(&order).await {
//!         Ok(()) => StatusCode::ACCEPTED,
//!         Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
//!     }
//! }
//!
//! async fn on_order(order: Order, invoices: Producer, audit: Producer) -> Result<(), ProduceError> {
//!     audit.send(&format!("order for {}", order.item)).await?;
//!     invoices.send(&order).await
//! }
//!
//! #[tokio::main]
//! async fn main() -> evently::Result<()> {
//!     App::from_env()?.run().await
//! }
//! ```
//!
//! An `amqp consume` handler takes the decoded message (any `Deserialize`
//! type, or [`Message<T>`](amqp::Message) for its id, correlation id, headers
//! and redelivered flag) and `State<T>` values, then one
//! [`Producer`](amqp::Producer) per `produce` resource, in binding order. It
//! returns `()` or a `Result`; an `Err` or a panic fails the message.
//!
//! An `amqp subscribe "exchange"` handler looks the same. Where `consume`
//! names a durable queue that every instance of the service shares, each
//! running instance subscribes with a server-named, exclusive queue of its
//! own, bound to the exchange with the binding's key; it disappears with the
//! instance's connection. So one message published to the exchange is
//! handled once by every instance, as a cache invalidation or a
//! configuration change should be, and messages published while an instance
//! is disconnected do not reach it. A new queue is bound on every
//! connection, and readiness waits for it. Failed messages are retried on
//! the instance's queue and dead-lettered to `<exchange>.dead-letter`,
//! shared by all instances.
//!
//! - **Ack after success.** A message is acked only after its handler
//!   succeeded and every message it produced `once_finished` was confirmed by
//!   the broker. If the process dies before that, the broker delivers the
//!   message again: delivery is at least once, so handlers should be
//!   idempotent, which message ids make possible. On RabbitMQ, messages whose
//!   handlers finish together are acked with one `basic.ack` (`multiple`),
//!   which never reaches past a message still being handled: a slow handler
//!   holds back no other message's ack.
//! - **Producers.** `instantly` publishes when `send` is awaited and returns
//!   once the broker confirmed. `once_finished` (the default) keeps the
//!   message until the handler succeeded and drops it when the handler
//!   failed. Behind an `http` or `rest` entry, `once_finished` messages are
//!   published before the response is sent, and only for a 2xx or 3xx
//!   response; if the broker does not confirm them the client gets 503
//!   instead. A message that no queue is bound for is an error returned by
//!   `send` (or a 503), never dropped silently. Messages are persistent
//!   `application/json` with a message id, a timestamp, and a correlation id
//!   copied from the cause (the consumed message's correlation id or message
//!   id, or the request's `x-correlation-id` or `x-request-id` header).
//!   `producer.message(&m).key("order.created.eu").header("x-tenant",
//!   "acme").send()` gives one message a routing key of its own (for a
//!   producer to an exchange) and headers.
//! - **Retries and dead letters.** A failed message is tried again after the
//!   retry delay, up to the configured number of attempts
//!   (`EVENTLY_AMQP_RETRY_ATTEMPTS`, or `attempts N` in the binding), by publishing a
//!   copy at the back of its queue with an `x-evently-attempt` header, then
//!   acking the original. After the last attempt it goes to the queue's
//!   dead-letter queue, `<queue>.dead-letter`, with `x-evently-reason`,
//!   `x-evently-queue` and `x-evently-attempt` headers. A message that does
//!   not decode goes there at once: retrying cannot fix it.
//! - **Concurrency.** Handlers of one binding run concurrently, up to the
//!   prefetch: `EVENTLY_AMQP_PREFETCH`, or `prefetch N` in the binding.
//! - **Recovery.** The RabbitMQ connection asks for heartbeats every 10 s
//!   (unless the URL sets `heartbeat=`), so a silent broker is noticed.
//!   A lost connection is re-established with backoff (100 ms doubling to
//!   5 s), every queue, exchange and binding is declared again and every
//!   consumer resumes. Meanwhile `/_evently/ready` answers 503 and
//!   publishers wait, at most `EVENTLY_AMQP_TIMEOUT`, then fail. A message
//!   whose handler was running when the connection dropped is delivered
//!   again. Every wait for the broker has that bound, so nothing hangs.
//! - **Shutdown.** Consumers stop taking messages, handlers in flight finish
//!   within the shutdown deadline, their messages are published and acked,
//!   then the connection is closed.
//! - **Secrets.** The broker URL is logged with its password replaced by
//!   `***`, at every log level.
//!
//! `EVENTLY_AMQP_URL` chooses the broker. Unset, it is `memory://`: an
//! in-process broker with the same queues, exchanges, routing keys,
//! acks, retries and dead letters, so a service runs on a machine with
//! nothing installed. `amqp://user:password@host:5672/vhost` is RabbitMQ.
//! [`Running::broker`] gives a [`BrokerClient`](amqp::BrokerClient) to
//! publish into a queue and read what the service produced, on either
//! broker, which is how tests drive a service.
//!
//! # Streaming
//!
//! A handler may answer as it goes: [`Chunks`](http::Chunks) sends each item
//! of a stream as one chunk of the body, [`Sse`](http::Sse) as one
//! server-sent event, and [`WebSocket::send_all`](ws::WebSocket::send_all)
//! as one WebSocket message. Streams are easiest to write with
//! [`stream!`] and `yield`:
//!
//! ```
//! use evently::prelude::*;
//!
//! async fn countdown() -> Chunks<impl evently::Stream<Item = String>> {
//!     Chunks::new(stream! {
//!         for n in (1..=3).rev() {
//!             yield format!("{n}\n");
//!         }
//!     })
//! }
//! ```
//!
//! The stream is polled only when the connection can take more, so a slow
//! client slows the stream instead of growing a buffer. Producers handed to a
//! streaming handler publish their `once_finished` messages after the stream
//! ended; if that fails, the response is cut short, so the client does not
//! see a complete answer.
//!
//! # WebSockets
//!
//! ```no_run
//! use evently::prelude::*;
//!
//! evently! {
//!     ws "/echo" => echo;
//!     ws "/chat" + amqp subscribe "chat" fanout + produce "said" instantly => chat;
//! }
//!
//! async fn echo(mut socket: WebSocket) {
//!     while let Some(message) = socket.recv().await {
//!         if socket.send(message).await.is_err() {
//!             break;
//!         }
//!     }
//! }
//!
//! async fn chat(mut socket: WebSocket, mut chat: Subscription, said: Producer) {
//!     loop {
//!         tokio::select! {
//!             message = socket.recv() => match message {
//!                 Some(message) => { let _ = said.send(&message.as_text()).await; }
//!                 None => return,
//!             },
//!             Some(delivery) = chat.next() => {
//!                 if socket.send(delivery.text().unwrap_or_default().to_owned()).await.is_err() {
//!                     return;
//!                 }
//!                 let _ = delivery.ack().await;
//!             }
//!         }
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> evently::Result<()> {
//!     App::from_env()?.run().await
//! }
//! ```
//!
//! A `ws` route is served on the HTTP listener. Its handler takes extractors
//! that do not read the body, then the [`WebSocket`](ws::WebSocket), then
//! its resources in binding order: a [`Producer`](amqp::Producer) per
//! `produce`, a [`Subscription`](amqp::Subscription) per `consume` or
//! `subscribe`. The extractors run before the upgrade, so one that refuses
//! (authentication, say) answers with an HTTP error and no socket opens.
//! Pings are answered and the closing handshake is handled. Messages over
//! `EVENTLY_WS_MAX_MESSAGE` close the socket with 1009; origins outside
//! `EVENTLY_WS_ORIGINS` get 403; a plain request gets 426; shutdown closes
//! every socket with 1001.
//!
//! Each session opens its own consumer before the upgrade (a broker that is
//! unavailable answers 503). With `consume "queue"` sessions compete for the
//! queue; with `subscribe "exchange"` each session gets an exclusive queue
//! bound to the exchange and deleted when the session ends, so a message
//! published once reaches the sessions of every running instance. A handler
//! acks a delivery once it wrote it to the socket; whatever a session leaves
//! unacked goes back to its queue when the session ends. A message written
//! to the socket of a client that vanished without closing is acked
//! nonetheless: only the client could say it never read it.
//!
//! # gRPC
//!
//! ```no_run
//! use evently::grpc::{Replies, Status};
//! use evently::prelude::*;
//! use evently::Stream;
//!
//! // The messages of a `.proto`, derived by hand (or generated by
//! // `prost-build`): `message HelloRequest { string name = 1; }`.
//! #[derive(Clone, PartialEq, evently::grpc::Message)]
//! #[prost(prost_path = "::evently::grpc::prost")]
//! struct HelloRequest {
//!     #[prost(string, tag = "1")]
//!     name: String,
//! }
//!
//! #[derive(Clone, PartialEq, evently::grpc::Message)]
//! #[prost(prost_path = "::evently::grpc::prost")]
//! struct HelloReply {
//!     #[prost(string, tag = "1")]
//!     message: String,
//! }
//!
//! evently! {
//!     grpc "tour.Greeter/SayHello" + amqp produce "greeted" => say_hello;
//!     grpc "tour.Greeter/SayHelloStream" => say_hello_stream;
//! }
//!
//! async fn say_hello(request: HelloRequest, greeted: Producer) -> Result<HelloReply, Status> {
//!     if request.name.is_empty() {
//!         return Err(Status::invalid_argument("the name is empty"));
//!     }
//!     greeted
//!         .send(&request.name)
//!         .await
//!         .map_err(|_| Status::unavailable("the broker is unavailable"))?;
//!     Ok(HelloReply { message: format!("Hello {}", request.name) })
//! }
//!
//! async fn say_hello_stream(
//!     request: HelloRequest,
//! ) -> Replies<impl Stream<Item = Result<HelloReply, Status>>> {
//!     Replies::new(stream! {
//!         for n in 1..=5 {
//!             yield Ok(HelloReply { message: format!("Hello {}, reply {n} of 5", request.name) });
//!         }
//!     })
//! }
//!
//! #[tokio::main]
//! async fn main() -> evently::Result<()> {
//!     App::from_env()?.run().await
//! }
//! ```
//!
//! A `grpc` binding is served on the HTTP listener over HTTP/2 (prior
//! knowledge, as gRPC clients connect), at `POST /package.Service/Method`.
//! Its handler takes the request message, then extractors that read no body
//! ([`State<T>`](http::State), [`HeaderMap`](http::HeaderMap) for the
//! metadata), then one [`Producer`](amqp::Producer) per `produce` resource.
//! It returns `Result<Reply, E>` for a unary method or
//! [`Replies`](grpc::Replies) for a server-streaming one; each yielded reply
//! is sent as it comes, as fast as the client reads. Messages are
//! [`prost`] types. An `Err` that is a [`Status`](grpc::Status)
//! reaches the client as it is; any other error is logged and answered
//! `INTERNAL`, as is a panic. `once_finished` messages are published after
//! the reply (or the last streamed reply) and before the status, and only on
//! success; a broker that refuses them turns the status into `UNAVAILABLE`.
//! The [`grpc`] module lists the statuses malformed calls get.
//!
//! # SOAP
//!
//! ```no_run
//! use evently::prelude::*;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Operands {
//!     a: i64,
//!     b: i64,
//! }
//!
//! #[derive(Serialize, Deserialize)]
//! struct Outcome {
//!     result: i64,
//! }
//!
//! evently! {
//!     soap "/calculator" Add => add;
//!     soap "/calculator" Divide => divide;
//! }
//!
//! async fn add(Operands { a, b }: Operands) -> Result<Outcome, Fault> {
//!     Ok(Outcome { result: a + b })
//! }
//!
//! async fn divide(Operands { a, b }: Operands) -> Result<Outcome, Fault> {
//!     a.checked_div(b)
//!         .map(|result| Outcome { result })
//!         .ok_or_else(|| Fault::client("cannot divide by zero"))
//! }
//!
//! #[tokio::main]
//! async fn main() -> evently::Result<()> {
//!     App::from_env()?.run().await
//! }
//! ```
//!
//! The `soap` bindings of one path make one SOAP service on the HTTP
//! listener: SOAP 1.1 (`text/xml`, `SOAPAction`) and 1.2
//! (`application/soap+xml; action=...`) envelopes are answered at
//! `POST /path`, and `GET /path?wsdl` serves a WSDL 1.1 document with both
//! bindings and an XSD schema traced from the operations' serde types, which
//! stock clients (zeep, SoapUI, .NET) load as they are. A handler takes the
//! request (optionally after `State<T>`), then one
//! [`Producer`](amqp::Producer) per `produce` resource, and returns
//! `Result<Response, E>`: a [`Fault`](soap::Fault) reaches the client as it
//! is (a client or a server fault), any other error is logged and answered
//! with a server fault, as is a panic. The [`soap`] module says how
//! operations, namespaces and actions are named, and which XML is refused:
//! a DOCTYPE, entity declarations and references, processing instructions
//! and nesting over [`soap::MAX_DEPTH`] get a client fault before anything
//! is decoded, and nothing is ever read from the filesystem or the network.
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
//! which tests use; `test` starts the service in process, without a
//! listener, for tests that need no socket and no broker
//! ([`testing`]). The HTTP side is a `tower::Service`: `App::layer` wraps it
//! in any `tower` layer, such as those of `tower-http`.
//!
//! Logs go through `tracing`, filtered by `RUST_LOG` (default
//! `info,lapin=off`): one line at startup with the address, the topology and
//! the broker, one span per request (at debug level) carrying the method,
//! route and handler, and one per message carrying the queue, message id,
//! correlation id and attempt. `/_evently/health` answers 200 while the
//! process serves; `/_evently/ready` answers 503 while the broker is not
//! connected or an `amqp subscribe` queue is not bound yet.
//!
//! `/_evently/metrics` serves Prometheus' text format:
//!
//! | series | type | labels |
//! |---|---|---|
//! | `evently_http_requests_total` | counter | `method`, `route` (the template, `""` when no handler ran), `status` (`2xx`…) |
//! | `evently_http_request_duration_seconds` | histogram | `method`, `route`: from the request to its response head |
//! | `evently_amqp_messages_total` | counter | `source` (the queue, or the subscription), `outcome`: `consumed`, `acked`, `retried`, `dead_lettered`, `requeued` |
//! | `evently_amqp_connected` | gauge | 1 while connected to the broker |
//! | `evently_amqp_connections_total` | counter | connections made: more than one means reconnects |
//! | `evently_ws_sessions_open`, `evently_ws_sessions_total` | gauge, counter | WebSocket sessions |
//!
//! Counting costs a few atomic additions per request or message.
//!
//! `/_evently/openapi.json` is the OpenAPI 3.1 document of the `http` and
//! `rest` routes, built from the block and the handlers' types: paths,
//! methods and operation ids from the bindings; path and query parameters and
//! JSON request bodies with schemas traced from the `Deserialize` types of
//! `Path<T>`, `Query<T>` and `Json<T>` (serde's renames included, an `Option`
//! field optional); the content types and statuses each handler can answer,
//! with `application/problem+json` refusals and the 503 of a route whose
//! messages the broker did not take. Response bodies are `Serialize` only, so
//! they are described by content type, without a schema; an enum nested in a
//! request type has a schema that accepts anything, since it cannot be traced
//! whole. `/_evently/docs` shows the document in Swagger UI, which the browser
//! loads from a CDN. The test suite checks the tour's document with the stock
//! `openapi-spec-validator`. SOAP services describe themselves with their WSDL.
//!
//! `/_evently/asyncapi.json` is the AsyncAPI 3.0 document of the queues,
//! exchanges and WebSocket paths: a channel for each, with its AMQP or
//! WebSocket binding, and an operation for everything a handler receives or
//! sends, with the schema of the payload each consumer decodes, traced from
//! its handler's parameter type as OpenAPI bodies are. The test suite checks
//! the documents against the official AsyncAPI JSON Schema. `/_evently/topology` is a page that lists every binding as the
//! block wrote it, with links to the other documents.

#[macro_use]
mod arity;

pub mod amqp;
mod app;
mod config;
mod contracts;
mod error;
pub mod grpc;
pub mod http;
mod metrics;
#[doc(hidden)]
pub mod openapi;
mod panics;
pub mod soap;
mod state;
mod telemetry;
pub mod testing;
mod topology;
pub mod ws;

pub use app::Running;
pub use async_stream::stream;
pub use config::Config;
pub use error::{Error, Result};
pub use evently_dsl::evently;
pub use futures_util::Stream;
pub use topology::{
    Binding, Consume, Entry, ExchangeBinding, Produce, Protocol, Resource, Source, Subscribe,
    Topology,
};

/// What a service module needs: `use evently::prelude::*;`.
pub mod prelude {
    pub use crate::amqp::{Message, Producer, Subscription};
    pub use crate::evently;
    pub use crate::http::{
        Chunks, HeaderMap, Html, IntoResponse, Json, Path, Problem, Query, Sse, State, StatusCode,
    };
    pub use crate::soap::Fault;
    pub use crate::stream;
    pub use crate::ws::WebSocket;
}

/// What generated code refers to. Not public API: it changes without notice.
#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

/// The README's example service compiles.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
