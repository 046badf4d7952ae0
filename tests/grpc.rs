//! gRPC methods over real sockets: a stock Python grpcio client against the
//! tour's service, and a raw HTTP/2 client for what a stock client never
//! sends (bad frames, bad messages).

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use evently::grpc::prost::Message as _;
use evently::grpc::{Replies, Status};
use evently::http::HeaderMap;
use evently::prelude::*;
use evently::{Config, Running, Stream};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// The tour's messages, as the tour itself uses them.
#[path = "../examples/proto/tour.rs"]
mod proto;

use proto::{HelloReply, HelloRequest};

/// An order for `test.Orders`.
#[derive(Clone, PartialEq, evently::grpc::Message)]
#[prost(prost_path = "::evently::grpc::prost")]
struct Order {
    #[prost(string, tag = "1")]
    item: String,
    #[prost(uint32, tag = "2")]
    quantity: u32,
}

/// How many replies `test.Flood/Flood` has produced.
#[derive(Clone, Default)]
struct Produced(Arc<AtomicUsize>);

evently! {
    state Produced;

    grpc "tour.Greeter/SayHello" => say_hello;
    grpc "tour.Greeter/SayHelloStream" => say_hello_stream;
    grpc "test.Faults/Status" => fails_with_status;
    grpc "test.Faults/Display" => fails_with_display;
    grpc "test.Faults/Panic" => panics;
    grpc "test.Faults/StreamFails" => stream_fails;
    grpc "test.Faults/StreamPanics" => stream_panics;
    grpc "test.Meta/Caller" => caller;
    grpc "test.Flood/Flood" => flood;
    grpc "test.Orders/Place" + amqp produce "grpc.placed" => place;
    grpc "test.Orders/PlaceStream" + amqp produce "grpc.streamed" => place_stream;
}

async fn say_hello(request: HelloRequest) -> Result<HelloReply, Status> {
    Ok(HelloReply {
        message: format!("Hello {}", request.name),
    })
}

async fn say_hello_stream(
    request: HelloRequest,
) -> Replies<impl Stream<Item = Result<HelloReply, Status>>> {
    Replies::new(stream! {
        for n in 1..=5 {
            yield Ok(HelloReply { message: format!("Hello {}, reply {n} of 5", request.name) });
        }
    })
}

async fn fails_with_status(request: HelloRequest) -> Result<HelloReply, Status> {
    Err(Status::not_found(format!("nobody called {}", request.name)))
}

async fn fails_with_display(_: HelloRequest) -> Result<HelloReply, std::io::Error> {
    Err(std::io::Error::other("the disk is on fire"))
}

async fn panics(_: HelloRequest) -> Result<HelloReply, Status> {
    panic!("this handler always panics")
}

async fn stream_fails(_: HelloRequest) -> Replies<impl Stream<Item = Result<HelloReply, Status>>> {
    Replies::new(stream! {
        yield Ok(HelloReply { message: "one".into() });
        yield Ok(HelloReply { message: "two".into() });
        yield Err(Status::aborted("stopped after two"));
        yield Ok(HelloReply { message: "never sent".into() });
    })
}

async fn stream_panics(_: HelloRequest) -> Replies<impl Stream<Item = Result<HelloReply, Status>>> {
    Replies::new(stream! {
        yield Ok(HelloReply { message: "one".into() });
        panic!("this stream panics after one reply");
    })
}

/// Answers with the caller's `x-caller` metadata.
async fn caller(_: HelloRequest, headers: HeaderMap) -> Result<HelloReply, Status> {
    let caller = headers
        .get("x-caller")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Status::invalid_argument("no x-caller metadata"))?;
    Ok(HelloReply {
        message: caller.to_owned(),
    })
}

/// `quantity` replies of `item`, counting each one as it is produced.
async fn flood(
    order: Order,
    State(produced): State<Produced>,
) -> Replies<impl Stream<Item = Result<HelloReply, Status>>> {
    Replies::new(stream! {
        for _ in 0..order.quantity {
            produced.0.fetch_add(1, Ordering::SeqCst);
            yield Ok(HelloReply { message: order.item.clone() });
        }
    })
}

/// Places an order, published once the call succeeded; a quantity of zero
/// is refused.
async fn place(order: Order, placed: Producer) -> Result<HelloReply, Status> {
    placed
        .send(&serde_json::json!({ "item": order.item }))
        .await
        .map_err(|e| Status::internal(e.to_string()))?;
    if order.quantity == 0 {
        return Err(Status::invalid_argument("the quantity is zero"));
    }
    Ok(HelloReply {
        message: format!("placed {}", order.item),
    })
}

/// Streams the order back item by item; the note is published after the
/// stream, unless it failed.
async fn place_stream(
    order: Order,
    streamed: Producer,
) -> Replies<impl Stream<Item = Result<HelloReply, Status>>> {
    Replies::new(stream! {
        if let Err(error) = streamed.send(&serde_json::json!({ "item": order.item })).await {
            yield Err(Status::internal(error.to_string()));
            return;
        }
        for n in 1..=order.quantity {
            yield Ok(HelloReply { message: format!("{} {n}", order.item) });
        }
        if order.item == "fail" {
            yield Err(Status::aborted("failed at the end"));
        }
    })
}

/// The largest message `start` accepts.
const BODY_LIMIT: usize = 4096;

async fn start() -> (Running, Produced) {
    let produced = Produced::default();
    let config = Config::default()
        .http_addr(([127, 0, 0, 1], 0).into())
        .body_limit(BODY_LIMIT);
    let running = App::with_config(config, produced.clone())
        .unwrap()
        .start()
        .await
        .unwrap();
    (running, produced)
}

/// What a call got back.
#[derive(Debug)]
struct Answer {
    http: u16,
    code: Option<i32>,
    message: String,
    /// The reply frames' payloads.
    replies: Vec<Bytes>,
}

impl Answer {
    fn hello(&self) -> Vec<String> {
        self.replies
            .iter()
            .map(|bytes| HelloReply::decode(bytes.clone()).unwrap().message)
            .collect()
    }
}

fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

/// One gRPC frame: the compressed flag, the length, the message.
fn frame(compressed: bool, message: &[u8]) -> Bytes {
    let mut bytes = BytesMut::with_capacity(5 + message.len());
    bytes.put_u8(u8::from(compressed));
    bytes.put_u32(u32::try_from(message.len()).unwrap());
    bytes.put_slice(message);
    bytes.freeze()
}

fn request(addr: SocketAddr, path: &str) -> http::request::Builder {
    http::Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
}

/// Sends `body` (already framed) to `path` and reads the whole answer.
async fn call_raw(addr: SocketAddr, path: &str, body: Bytes) -> Answer {
    let req = request(addr, path).body(Full::new(body)).unwrap();
    send(req).await
}

async fn send(req: http::Request<Full<Bytes>>) -> Answer {
    let response = client().request(req).await.unwrap();
    let http = response.status().as_u16();
    let headers = response.headers().clone();
    let collected = response.into_body().collect().await.unwrap();
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let mut data = collected.to_bytes();

    // A call that failed before any reply answers with its status in the
    // headers ("trailers-only").
    let status = trailers
        .get("grpc-status")
        .or_else(|| headers.get("grpc-status"));
    let code = status.map(|v| v.to_str().unwrap().parse().unwrap());
    let message = trailers
        .get("grpc-message")
        .or_else(|| headers.get("grpc-message"))
        .map(|v| percent_decode(v.to_str().unwrap()))
        .unwrap_or_default();
    let mut replies = Vec::new();
    while !data.is_empty() {
        assert!(data.len() >= 5, "a reply frame is cut short: {data:?}");
        let length = u32::from_be_bytes(data[1..5].try_into().unwrap()) as usize;
        assert_eq!(data[0], 0, "replies are not compressed");
        replies.push(data.slice(5..5 + length));
        data = data.slice(5 + length..);
    }
    Answer {
        http,
        code,
        message,
        replies,
    }
}

/// `grpc-message` is percent-encoded.
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// Calls `path` with one message.
async fn call<M: evently::grpc::Message>(addr: SocketAddr, path: &str, message: &M) -> Answer {
    call_raw(addr, path, frame(false, &message.encode_to_vec())).await
}

fn ada() -> HelloRequest {
    HelloRequest { name: "Ada".into() }
}

const OK: i32 = 0;
const INVALID_ARGUMENT: i32 = 3;
const NOT_FOUND: i32 = 5;
const RESOURCE_EXHAUSTED: i32 = 8;
const ABORTED: i32 = 10;
const UNIMPLEMENTED: i32 = 12;
const INTERNAL: i32 = 13;

#[test]
fn a_stock_grpcio_client_calls_the_tour_service() {
    let python = std::env::var("EVENTLY_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "EVENTLY_TEST_PYTHON is not set: `bash .ci/test` installs grpcio into a virtual \
             environment and sets it"
        )
    });
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (running, _) = runtime.block_on(start());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = Command::new(&python)
        .arg(root.join("tests/interop/grpc_client.py"))
        .arg(root.join("examples/proto/tour.proto"))
        .arg(running.local_addr().to_string())
        .output()
        .unwrap_or_else(|e| panic!("{python} cannot be run ({e}): run `bash .ci/test`"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the grpcio client failed (is grpcio installed? `bash .ci/test` installs it):\n\
         {stdout}\n{stderr}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "unary: Hello Ada",
            "stream: Hello Ada, reply 1 of 5",
            "stream: Hello Ada, reply 2 of 5",
            "stream: Hello Ada, reply 3 of 5",
            "stream: Hello Ada, reply 4 of 5",
            "stream: Hello Ada, reply 5 of 5",
            "unimplemented: UNIMPLEMENTED",
            "health: SERVING",
        ]
    );
    runtime.block_on(running.shutdown());
}

#[tokio::test]
async fn unary_call() {
    let (running, _) = start().await;
    let answer = call(running.local_addr(), "/tour.Greeter/SayHello", &ada()).await;
    assert_eq!((answer.http, answer.code), (200, Some(OK)));
    assert_eq!(answer.hello(), ["Hello Ada"]);
}

#[tokio::test]
async fn server_streaming_call() {
    let (running, _) = start().await;
    let answer = call(running.local_addr(), "/tour.Greeter/SayHelloStream", &ada()).await;
    assert_eq!(answer.code, Some(OK));
    let expected: Vec<String> = (1..=5)
        .map(|n| format!("Hello Ada, reply {n} of 5"))
        .collect();
    assert_eq!(answer.hello(), expected);
}

#[tokio::test]
async fn a_status_from_the_handler_reaches_the_client() {
    let (running, _) = start().await;
    let answer = call(running.local_addr(), "/test.Faults/Status", &ada()).await;
    assert_eq!((answer.http, answer.code), (200, Some(NOT_FOUND)));
    assert_eq!(answer.message, "nobody called Ada");
    assert!(answer.replies.is_empty());
}

#[tokio::test]
async fn another_error_is_internal_and_stays_in_the_log() {
    let (running, _) = start().await;
    let answer = call(running.local_addr(), "/test.Faults/Display", &ada()).await;
    assert_eq!(answer.code, Some(INTERNAL));
    assert!(!answer.message.contains("fire"), "{}", answer.message);
}

#[tokio::test]
async fn a_panic_is_internal_and_the_server_goes_on() {
    let (running, _) = start().await;
    let addr = running.local_addr();
    let answer = call(addr, "/test.Faults/Panic", &ada()).await;
    assert_eq!(answer.code, Some(INTERNAL));
    let answer = call(addr, "/tour.Greeter/SayHello", &ada()).await;
    assert_eq!(answer.hello(), ["Hello Ada"]);

    let answer = call(addr, "/test.Faults/StreamPanics", &ada()).await;
    assert_eq!(answer.code, Some(INTERNAL));
    assert_eq!(answer.hello(), ["one"]);
    let answer = call(addr, "/tour.Greeter/SayHello", &ada()).await;
    assert_eq!(answer.hello(), ["Hello Ada"]);
}

#[tokio::test]
async fn an_error_item_ends_a_stream_with_its_status() {
    let (running, _) = start().await;
    let answer = call(running.local_addr(), "/test.Faults/StreamFails", &ada()).await;
    assert_eq!(answer.hello(), ["one", "two"]);
    assert_eq!(answer.code, Some(ABORTED));
    assert_eq!(answer.message, "stopped after two");
}

#[tokio::test]
async fn an_unknown_method_is_unimplemented() {
    let (running, _) = start().await;
    let answer = call(running.local_addr(), "/tour.Greeter/SayGoodbye", &ada()).await;
    assert_eq!((answer.http, answer.code), (200, Some(UNIMPLEMENTED)));
    let answer = call(running.local_addr(), "/no.Such/Service", &ada()).await;
    assert_eq!((answer.http, answer.code), (200, Some(UNIMPLEMENTED)));
}

#[tokio::test]
async fn metadata_reaches_extractors() {
    let (running, _) = start().await;
    let body = frame(false, &ada().encode_to_vec());
    let req = request(running.local_addr(), "/test.Meta/Caller")
        .header("x-caller", "the test")
        .body(Full::new(body.clone()))
        .unwrap();
    let answer = send(req).await;
    assert_eq!(answer.hello(), ["the test"]);
    let answer = call_raw(running.local_addr(), "/test.Meta/Caller", body).await;
    assert_eq!(answer.code, Some(INVALID_ARGUMENT));
}

#[tokio::test]
async fn a_message_that_is_not_protobuf_is_refused() {
    let (running, _) = start().await;
    // Field 1, a string of five bytes, of which one arrives.
    let answer = call_raw(
        running.local_addr(),
        "/tour.Greeter/SayHello",
        frame(false, &[0x0a, 0x05, b'a']),
    )
    .await;
    assert_eq!(answer.code, Some(INTERNAL), "{answer:?}");
    assert!(answer.replies.is_empty());
}

#[tokio::test]
async fn a_truncated_frame_is_refused() {
    let (running, _) = start().await;
    let whole = frame(false, &ada().encode_to_vec());
    let cut = whole.slice(..whole.len() - 2);
    let answer = call_raw(running.local_addr(), "/tour.Greeter/SayHello", cut).await;
    assert_eq!(answer.code, Some(INTERNAL), "{answer:?}");
    let answer = call_raw(
        running.local_addr(),
        "/tour.Greeter/SayHello",
        whole.slice(..3),
    )
    .await;
    assert_eq!(answer.code, Some(INTERNAL), "{answer:?}");
}

#[tokio::test]
async fn a_compressed_frame_without_an_encoding_is_refused() {
    let (running, _) = start().await;
    let body = frame(true, &ada().encode_to_vec());
    let answer = call_raw(running.local_addr(), "/tour.Greeter/SayHello", body.clone()).await;
    assert_eq!(answer.code, Some(INTERNAL), "{answer:?}");

    // An encoding the service does not speak.
    let req = request(running.local_addr(), "/tour.Greeter/SayHello")
        .header("grpc-encoding", "gzip")
        .body(Full::new(body))
        .unwrap();
    let answer = send(req).await;
    assert_eq!(answer.code, Some(UNIMPLEMENTED), "{answer:?}");
}

#[tokio::test]
async fn a_message_over_the_limit_is_refused() {
    let (running, _) = start().await;
    let large = HelloRequest {
        name: "x".repeat(BODY_LIMIT + 1),
    };
    let answer = call(running.local_addr(), "/tour.Greeter/SayHello", &large).await;
    assert_eq!(answer.code, Some(RESOURCE_EXHAUSTED), "{answer:?}");
    let fits = HelloRequest {
        name: "x".repeat(BODY_LIMIT - 16),
    };
    let answer = call(running.local_addr(), "/tour.Greeter/SayHello", &fits).await;
    assert_eq!(answer.code, Some(OK));
}

#[tokio::test]
async fn a_request_that_is_not_grpc_is_415() {
    let (running, _) = start().await;
    let req = http::Request::post(format!(
        "http://{}/tour.Greeter/SayHello",
        running.local_addr()
    ))
    .header("content-type", "application/json")
    .body(Full::new(Bytes::from_static(b"{\"name\": \"Ada\"}")))
    .unwrap();
    let response = client().request(req).await.unwrap();
    assert_eq!(response.status(), 415);
}

#[tokio::test]
async fn a_unary_call_publishes_once_finished_and_only_on_success() {
    let (running, _) = start().await;
    let broker = running.broker().expect("the app has a broker");
    let addr = running.local_addr();
    let refused = Order {
        item: "nothing".into(),
        quantity: 0,
    };
    let answer = call(addr, "/test.Orders/Place", &refused).await;
    assert_eq!(answer.code, Some(INVALID_ARGUMENT));
    let tea = Order {
        item: "tea".into(),
        quantity: 2,
    };
    let answer = call(addr, "/test.Orders/Place", &tea).await;
    assert_eq!(answer.hello(), ["placed tea"]);

    // The refused call's message was dropped: the first one in the queue is
    // the successful call's, and it was there when the reply came.
    let placed = broker.take("grpc.placed", 1, Duration::from_secs(10)).await;
    assert_eq!(placed.len(), 1);
    assert_eq!(placed[0].json(), serde_json::json!({ "item": "tea" }));
}

#[tokio::test]
async fn a_stream_publishes_once_finished_after_its_last_reply() {
    let (running, _) = start().await;
    let broker = running.broker().expect("the app has a broker");
    let addr = running.local_addr();
    let fail = Order {
        item: "fail".into(),
        quantity: 1,
    };
    let answer = call(addr, "/test.Orders/PlaceStream", &fail).await;
    assert_eq!(answer.code, Some(ABORTED));
    let tea = Order {
        item: "tea".into(),
        quantity: 3,
    };
    let answer = call(addr, "/test.Orders/PlaceStream", &tea).await;
    assert_eq!(answer.code, Some(OK));
    assert_eq!(answer.hello(), ["tea 1", "tea 2", "tea 3"]);
    let streamed = broker
        .take("grpc.streamed", 1, Duration::from_secs(10))
        .await;
    assert_eq!(streamed.len(), 1);
    assert_eq!(streamed[0].json(), serde_json::json!({ "item": "tea" }));
}

#[tokio::test]
async fn a_slow_client_slows_the_stream() {
    let (running, produced) = start().await;
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .http2_initial_stream_window_size(65_535)
        .http2_initial_connection_window_size(65_535)
        .build_http();
    let total = 10_000;
    let order = Order {
        item: "x".repeat(1000),
        quantity: total,
    };
    let body = frame(false, &order.encode_to_vec());
    let req = request(running.local_addr(), "/test.Flood/Flood")
        .body(Full::new(body))
        .unwrap();
    let response = client.request(req).await.unwrap();

    // The client reads nothing: the stream stops once the flow-control
    // window and the send buffer are full, far short of the total.
    let mut last = usize::MAX;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = produced.0.load(Ordering::SeqCst);
        if now == last && now > 0 {
            break;
        }
        last = now;
    }
    assert!(
        last < 2_000,
        "{last} replies were produced for a client that read none"
    );

    // Reading lets it go on to the end.
    let collected = response.into_body().collect().await.unwrap();
    assert_eq!(
        collected
            .trailers()
            .and_then(|t| t.get("grpc-status"))
            .unwrap(),
        "0"
    );
    assert_eq!(produced.0.load(Ordering::SeqCst), total as usize);
}

/// `grpc.health.v1.HealthCheckRequest`, as a stock client sends it.
#[derive(Clone, PartialEq, evently::grpc::Message)]
#[prost(prost_path = "::evently::grpc::prost")]
struct HealthCheckRequest {
    #[prost(string, tag = "1")]
    service: String,
}

/// `grpc.health.v1.HealthCheckResponse`.
#[derive(Clone, PartialEq, evently::grpc::Message)]
#[prost(prost_path = "::evently::grpc::prost")]
struct HealthCheckResponse {
    #[prost(int32, tag = "1")]
    status: i32,
}

async fn health(addr: SocketAddr, service: &str) -> (Option<i32>, Option<i32>) {
    let request = HealthCheckRequest {
        service: service.to_owned(),
    };
    let answer = call(addr, "/grpc.health.v1.Health/Check", &request).await;
    let status = answer
        .replies
        .first()
        .map(|reply| HealthCheckResponse::decode(reply.clone()).unwrap().status);
    (answer.code, status)
}

const SERVING: i32 = 1;
const NOT_SERVING: i32 = 2;

#[tokio::test]
async fn the_health_service_answers_for_the_server_and_its_services() {
    let (running, _) = start().await;
    let addr = running.local_addr();
    assert_eq!(health(addr, "").await, (Some(OK), Some(SERVING)));
    assert_eq!(
        health(addr, "tour.Greeter").await,
        (Some(OK), Some(SERVING))
    );
    assert_eq!(health(addr, "nope.Service").await, (Some(NOT_FOUND), None));
    let watch = call(
        addr,
        "/grpc.health.v1.Health/Watch",
        &HealthCheckRequest::default(),
    )
    .await;
    assert_eq!(watch.code, Some(UNIMPLEMENTED));
    running.shutdown().await;

    // Without its broker, the server is not serving.
    let config = Config::default()
        .http_addr(([127, 0, 0, 1], 0).into())
        .amqp_url("amqp://guest:guest@127.0.0.1:1/%2f")
        .broker_timeout(std::time::Duration::from_millis(200));
    let running = App::with_config(config, Produced::default())
        .unwrap()
        .start()
        .await
        .unwrap();
    assert_eq!(
        health(running.local_addr(), "").await,
        (Some(OK), Some(NOT_SERVING))
    );
    running.shutdown().await;
}
