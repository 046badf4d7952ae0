//! gRPC benchmark: a unary `tour.Greeter/SayHello` through evently against
//! tonic serving the same method.
//!
//! Both servers decode `HelloRequest { name: "Ada" }` and answer
//! `HelloReply { message: "Hello Ada" }`, with the same hand-derived prost
//! messages as the tour. The tonic server is what `tonic-build` generates
//! for a service, written out: a `tower`-style service that matches the
//! path and hands the request to `tonic::server::Grpc::unary` with
//! `tonic-prost`'s codec, served by hyper's HTTP/2 connection builder on
//! hyper-util's tokio executor. tonic's own `transport::Server` is not
//! used: its `router` feature pulls in axum, and under it sits the same
//! hyper connection. Both run on a multi-thread tokio runtime with the same
//! number of workers, so the difference is evently's own overhead: its
//! listener (HTTP/1.1 or HTTP/2 detection, head timeouts, graceful
//! shutdown), routing, the `content-type` check, panic catching and the
//! response body's boxing.
//!
//! Each server runs in a child process (this binary, started again with
//! `EVENTLY_BENCH_SERVER` set), so that its CPU time (utime + stime from
//! `/proc/<pid>/stat`) is its own. The load comes from this process and is
//! the same for both: HTTP/2 connections, each with several calls in flight,
//! each call sending the next as soon as its answer is in, every reply and
//! `grpc-status` checked. Rounds alternate between the servers so that noise
//! on the machine hits both, and the table shows the median of each
//! server's rounds. Linux only: it reads `/proc`.
//!
//! ```text
//! cargo bench -p evently --bench grpc
//! EVENTLY_BENCH_SECS=10 EVENTLY_BENCH_ROUNDS=5 cargo bench -p evently --bench grpc
//! ```
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `EVENTLY_BENCH_CONNECTIONS` | `8` | HTTP/2 connections of the load |
//! | `EVENTLY_BENCH_STREAMS` | `8` | calls in flight on each connection |
//! | `EVENTLY_BENCH_SECS` | `3` | measured seconds per round |
//! | `EVENTLY_BENCH_WARMUP_SECS` | `1` | unmeasured seconds before each round |
//! | `EVENTLY_BENCH_ROUNDS` | `3` | rounds per server |
//! | `EVENTLY_BENCH_THREADS` | the number of cores | worker threads of each server |
//!
//! Run without `--bench` (as `cargo test --benches` does), it makes one short
//! round per server, only to check that both answer correctly.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::{BufMut, Bytes, BytesMut};
use evently::grpc::Status;
use evently::grpc::prost::Message as _;
use evently::prelude::*;
use http::header::{CONTENT_TYPE, HeaderValue, TE};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};

mod common;

/// The tour's messages.
#[path = "../../examples/proto/tour.rs"]
mod proto;

use common::{Clients, Round, Server, Settings, Summary, Tally};
use proto::{HelloReply, HelloRequest};

/// The name of the server evently is compared with.
const RIVAL: &str = "tonic";

const METHOD: &str = "/tour.Greeter/SayHello";

// The evently server.

evently! {
    grpc "tour.Greeter/SayHello" => say_hello;
}

async fn say_hello(request: HelloRequest) -> Result<HelloReply, Status> {
    Ok(HelloReply {
        message: format!("Hello {}", request.name),
    })
}

async fn serve_evently() {
    let app = App::with_config(common::evently_config()).expect("the bench service is valid");
    let running = app.start().await.expect("the bench service binds");
    common::keep_serving(running).await;
}

// The tonic server, as `tonic-build` would generate it.

/// `SayHello` as a tonic unary service.
#[derive(Clone, Copy)]
struct TonicSayHello;

impl tonic::server::UnaryService<HelloRequest> for TonicSayHello {
    type Response = HelloReply;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<tonic::Response<HelloReply>, Status>> + Send>,
    >;

    fn call(&mut self, request: tonic::Request<HelloRequest>) -> Self::Future {
        Box::pin(async move {
            let reply = say_hello(request.into_inner()).await?;
            Ok(tonic::Response::new(reply))
        })
    }
}

async fn tonic_answer(req: Request<Incoming>) -> Result<Response<tonic::body::Body>, Infallible> {
    if req.uri().path() != METHOD {
        return Ok(Status::unimplemented("no such method").into_http());
    }
    let codec = tonic_prost::ProstCodec::<HelloReply, HelloRequest>::default();
    let mut grpc = tonic::server::Grpc::new(codec);
    Ok(grpc.unary(TonicSayHello, req).await)
}

async fn serve_tonic() {
    let builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    let service = hyper::service::service_fn(tonic_answer);
    common::serve_connections(|stream| builder.serve_connection(TokioIo::new(stream), service))
        .await;
}

// The load.

/// The framed `HelloRequest { name: "Ada" }`.
fn request_body() -> Bytes {
    let message = HelloRequest {
        name: "Ada".to_owned(),
    }
    .encode_to_vec();
    let mut frame = BytesMut::with_capacity(5 + message.len());
    frame.put_u8(0);
    frame.put_u32(u32::try_from(message.len()).expect("a small message"));
    frame.put_slice(&message);
    frame.freeze()
}

/// Loads `server` for one round.
async fn round(server: &Server, load: &Load, settings: &Settings) -> Result<Round, String> {
    let mut clients = Clients::new();
    for _ in 0..load.connections {
        let sender = connect(server.addr).await?;
        for _ in 0..load.streams {
            clients.spawn(|tally| drive(sender.clone(), server.addr, tally));
        }
    }
    let nothing = "no call completed in the round";
    clients.measure(server, settings, nothing).await
}

type Sender = hyper::client::conn::http2::SendRequest<Full<Bytes>>;

/// Opens one HTTP/2 connection.
async fn connect(addr: SocketAddr) -> Result<Sender, String> {
    let stream = common::connect(addr).await?;
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake failed: {e}"))?;
    tokio::spawn(connection);
    Ok(sender)
}

/// One call after the other on a shared connection until the round stops.
async fn drive(mut sender: Sender, addr: SocketAddr, tally: Tally) -> Result<(), String> {
    let uri = format!("http://{addr}{METHOD}");
    let body = request_body();
    while !tally.is_stopped() {
        sender
            .ready()
            .await
            .map_err(|e| format!("connection lost: {e}"))?;
        let request = Request::post(&uri)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/grpc"))
            .header(TE, HeaderValue::from_static("trailers"))
            .body(Full::new(body.clone()))
            .expect("a valid request");
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("call failed: {e}"))?;
        let status = response.status();
        let collected = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body failed: {e}"))?;
        let grpc_status = collected
            .trailers()
            .and_then(|t| t.get("grpc-status"))
            .map(HeaderValue::as_bytes)
            .map(<[u8]>::to_vec);
        let data = collected.to_bytes();
        let reply = data
            .get(5..)
            .and_then(|message| HelloReply::decode(message).ok());
        let fine = status == http::StatusCode::OK
            && grpc_status.as_deref() == Some(b"0")
            && reply.as_ref().is_some_and(|r| r.message == "Hello Ada");
        if !fine {
            return Err(format!(
                "SayHello answered {status}, grpc-status {grpc_status:?}, reply {reply:?}"
            ));
        }
        tally.add_one();
    }
    Ok(())
}

// The comparison.

/// The shape of the load; [`Settings`] has the rest.
struct Load {
    connections: usize,
    streams: usize,
}

impl Load {
    fn read(bench: bool) -> Load {
        Load {
            connections: common::setting(bench, "EVENTLY_BENCH_CONNECTIONS", 8.0, 2.0) as usize,
            streams: common::setting(bench, "EVENTLY_BENCH_STREAMS", 8.0, 2.0) as usize,
        }
    }
}

async fn compare(settings: Settings, load: Load) -> Result<(), String> {
    println!(
        "evently vs tonic, unary SayHello: {} HTTP/2 connections with {} calls in flight each, \
         {settings}",
        load.connections, load.streams,
    );
    let servers = [Server::spawn("evently"), Server::spawn(RIVAL)];
    let [evently, tonic] = common::alternate(&servers, &settings, None, async |server| {
        round(server, &load, &settings).await
    })
    .await?;
    print_table(&evently, &tonic);
    Ok(())
}

fn print_table(evently: &Summary, tonic: &Summary) {
    println!();
    println!(
        "{:<14} {:>10} {:>11}   req/s per round",
        "server", "req/s", "CPU µs/req"
    );
    for (name, summary) in [("evently", evently), ("tonic", tonic)] {
        println!(
            "{:<14} {:>10.0} {:>11.2}   {}",
            name,
            summary.per_second,
            summary.cpu_micros,
            summary.per_round(),
        );
    }
    println!(
        "{:<14} {:>10.3} {:>11.3}   {}",
        "evently/tonic",
        evently.per_second / tonic.per_second,
        evently.cpu_micros / tonic.cpu_micros,
        evently.ratios(tonic),
    );
}

fn main() {
    common::serve_if_child(RIVAL, serve_evently, serve_tonic);
    let bench = common::is_bench();
    common::run(compare(Settings::read(bench), Load::read(bench)));
}
