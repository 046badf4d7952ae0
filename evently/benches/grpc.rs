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
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use evently::grpc::Status;
use evently::grpc::prost::Message as _;
use evently::prelude::*;
use http::header::{CONTENT_TYPE, HeaderValue, TE};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// The tour's messages.
#[path = "../../examples/proto/tour.rs"]
mod proto;

use proto::{HelloReply, HelloRequest};

/// Set in a child process to the server it runs: `evently` or `tonic`.
const SERVER_VAR: &str = "EVENTLY_BENCH_SERVER";

/// A child announces its port with this line on stdout.
const PORT_LINE: &str = "evently-bench port ";

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
    let config = evently::Config::default().http_addr(SocketAddr::from(([127, 0, 0, 1], 0)));
    let app = App::with_config(config).expect("the bench service is valid");
    let running = app.start().await.expect("the bench service binds");
    announce(running.local_addr());
    std::future::pending::<()>().await;
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
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("the tonic server binds");
    announce(
        listener
            .local_addr()
            .expect("a bound listener has an address"),
    );
    let builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = hyper::service::service_fn(tonic_answer);
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
}

// The child process.

/// Runs one server until the parent closes our stdin (or kills us).
fn run_server(kind: &str) {
    let serve = match kind {
        "evently" => ServerKind::Evently,
        "tonic" => ServerKind::Tonic,
        other => panic!("{SERVER_VAR} must be `evently` or `tonic`, found {other:?}"),
    };
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(Settings::server_threads())
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        match serve {
            ServerKind::Evently => serve_evently().await,
            ServerKind::Tonic => serve_tonic().await,
        }
    });
}

fn announce(addr: SocketAddr) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{PORT_LINE}{}", addr.port());
    let _ = stdout.flush();
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ServerKind {
    Evently,
    Tonic,
}

impl ServerKind {
    fn name(self) -> &'static str {
        match self {
            ServerKind::Evently => "evently",
            ServerKind::Tonic => "tonic",
        }
    }
}

/// A server child process, killed when dropped.
struct Server {
    kind: ServerKind,
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn spawn(kind: ServerKind) -> Server {
        let exe = std::env::current_exe().expect("the bench binary's path");
        let mut child = Command::new(exe)
            .env(SERVER_VAR, kind.name())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the server process starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));

        // Skip whatever the server logs before its port.
        let mut line = String::new();
        let port = loop {
            line.clear();
            let read = stdout
                .read_line(&mut line)
                .expect("the server's stdout reads");
            assert!(
                read > 0,
                "the {} server exited before listening",
                kind.name()
            );
            if let Some(port) = line.trim_end().strip_prefix(PORT_LINE) {
                break port.parse::<u16>().expect("the server prints its port");
            }
        };

        // Keep draining its stdout so that a log line can never block it.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        Server {
            kind,
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    /// utime + stime so far, in clock ticks.
    fn cpu_ticks(&self) -> u64 {
        let path = format!("/proc/{}/stat", self.child.id());
        let stat = std::fs::read_to_string(&path).expect("/proc/<pid>/stat reads");
        // The command name may hold spaces; the fields after it do not.
        let fields: Vec<&str> = stat[stat.rfind(')').expect("a stat line") + 1..]
            .split_whitespace()
            .collect();
        let field = |n: usize| fields[n].parse::<u64>().expect("a stat field is a number");
        // Fields 14 and 15 of the line, counting the pid as 1 and the name as 2.
        field(11) + field(12)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

/// What one round measured.
struct Round {
    requests: u64,
    seconds: f64,
    cpu_seconds: f64,
}

impl Round {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    fn cpu_micros_per_request(&self) -> f64 {
        self.cpu_seconds * 1e6 / self.requests.max(1) as f64
    }
}

/// Loads `server` for one round.
async fn round(server: &Server, settings: &Settings) -> Result<Round, String> {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut clients = JoinSet::new();
    for _ in 0..settings.connections {
        let sender = connect(server.addr).await?;
        for _ in 0..settings.streams {
            let (stop, done) = (Arc::clone(&stop), Arc::clone(&done));
            clients.spawn(drive(sender.clone(), server.addr, stop, done));
        }
    }

    // Warm up, unmeasured.
    tokio::time::sleep(settings.warmup).await;

    // Measure a window while every call is busy.
    let (requests, ticks, started) = (
        done.load(Ordering::Relaxed),
        server.cpu_ticks(),
        Instant::now(),
    );
    tokio::time::sleep(settings.duration).await;
    let seconds = started.elapsed().as_secs_f64();
    let requests = done.load(Ordering::Relaxed) - requests;
    let ticks = server.cpu_ticks() - ticks;

    // Stop, and fail the round if any answer was wrong.
    stop.store(true, Ordering::Relaxed);
    let drained = tokio::time::timeout(Duration::from_secs(10), async {
        let mut outcome = Ok(());
        while let Some(joined) = clients.join_next().await {
            let result = joined
                .map_err(|e| format!("a client task failed: {e}"))
                .and_then(|r| r);
            outcome = outcome.and(result);
        }
        outcome
    })
    .await;
    drained.map_err(|_| "the server stopped answering".to_owned())??;
    if requests == 0 {
        return Err("no call completed in the round".to_owned());
    }
    Ok(Round {
        requests,
        seconds,
        cpu_seconds: ticks as f64 / settings.clock_ticks as f64,
    })
}

type Sender = hyper::client::conn::http2::SendRequest<Full<Bytes>>;

/// Opens one HTTP/2 connection.
async fn connect(addr: SocketAddr) -> Result<Sender, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("cannot set TCP_NODELAY: {e}"))?;
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake failed: {e}"))?;
    tokio::spawn(connection);
    Ok(sender)
}

/// One call after the other on a shared connection until `stop`.
async fn drive(
    mut sender: Sender,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
) -> Result<(), String> {
    let uri = format!("http://{addr}{METHOD}");
    let body = request_body();
    while !stop.load(Ordering::Relaxed) {
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
        done.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

// The comparison.

struct Settings {
    connections: usize,
    streams: usize,
    duration: Duration,
    warmup: Duration,
    rounds: usize,
    threads: usize,
    clock_ticks: u64,
}

impl Settings {
    fn read(bench: bool) -> Settings {
        let threads = Settings::server_threads();
        let clock_ticks = clock_ticks();
        if !bench {
            return Settings {
                connections: 2,
                streams: 2,
                duration: Duration::from_millis(200),
                warmup: Duration::from_millis(50),
                rounds: 1,
                threads,
                clock_ticks,
            };
        }
        Settings {
            connections: number("EVENTLY_BENCH_CONNECTIONS", 8.0) as usize,
            streams: number("EVENTLY_BENCH_STREAMS", 8.0) as usize,
            duration: Duration::from_secs_f64(number("EVENTLY_BENCH_SECS", 3.0)),
            warmup: Duration::from_secs_f64(number("EVENTLY_BENCH_WARMUP_SECS", 1.0)),
            rounds: number("EVENTLY_BENCH_ROUNDS", 3.0) as usize,
            threads,
            clock_ticks,
        }
    }

    /// The worker threads of each server; the children read it too.
    fn server_threads() -> usize {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        number("EVENTLY_BENCH_THREADS", cores as f64) as usize
    }
}

fn number(name: &str, default: f64) -> f64 {
    match std::env::var(name) {
        Ok(value) => match value.trim().parse::<f64>() {
            Ok(n) if n > 0.0 => n,
            _ => panic!("{name} must be a positive number, found {value:?}"),
        },
        Err(_) => default,
    }
}

/// The unit of utime and stime in `/proc/<pid>/stat`.
fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    }
}

/// One server's results.
struct Summary {
    per_second: f64,
    rounds: Vec<f64>,
    cpu_micros: f64,
}

impl Summary {
    fn new(rounds: &[Round]) -> Summary {
        let per_round: Vec<f64> = rounds.iter().map(Round::per_second).collect();
        Summary {
            per_second: median(per_round.clone()),
            rounds: per_round,
            cpu_micros: median(rounds.iter().map(Round::cpu_micros_per_request).collect()),
        }
    }
}

async fn compare(settings: Settings) -> Result<(), String> {
    println!(
        "evently vs tonic, unary SayHello: {} HTTP/2 connections with {} calls in flight each, \
         {} round(s) of {:.1} s per server after {:.1} s of warm-up each, {} server worker \
         threads",
        settings.connections,
        settings.streams,
        settings.rounds,
        settings.duration.as_secs_f64(),
        settings.warmup.as_secs_f64(),
        settings.threads,
    );
    let servers = [
        Server::spawn(ServerKind::Evently),
        Server::spawn(ServerKind::Tonic),
    ];
    let mut rounds: [Vec<Round>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..settings.rounds {
        for (server, rounds) in servers.iter().zip(&mut rounds) {
            let measured = round(server, &settings)
                .await
                .map_err(|e| format!("{} server: {e}", server.kind.name()))?;
            rounds.push(measured);
        }
    }
    let [evently, tonic] = rounds;
    print_table(&Summary::new(&evently), &Summary::new(&tonic));
    Ok(())
}

fn print_table(evently: &Summary, tonic: &Summary) {
    println!();
    println!(
        "{:<14} {:>10} {:>11}   req/s per round",
        "server", "req/s", "CPU µs/req"
    );
    for (name, summary) in [("evently", evently), ("tonic", tonic)] {
        let rounds: Vec<String> = summary.rounds.iter().map(|r| format!("{r:.0}")).collect();
        println!(
            "{:<14} {:>10.0} {:>11.2}   {}",
            name,
            summary.per_second,
            summary.cpu_micros,
            rounds.join(" "),
        );
    }
    // Each evently round next to the tonic round that followed it.
    let pairs: Vec<String> = evently
        .rounds
        .iter()
        .zip(&tonic.rounds)
        .map(|(e, t)| format!("{:.3}", e / t))
        .collect();
    println!(
        "{:<14} {:>10.3} {:>11.3}   {}",
        "evently/tonic",
        evently.per_second / tonic.per_second,
        evently.cpu_micros / tonic.cpu_micros,
        pairs.join(" "),
    );
}

fn main() {
    if let Ok(server) = std::env::var(SERVER_VAR) {
        run_server(&server);
        return;
    }
    let bench = std::env::args().any(|arg| arg == "--bench");
    let settings = Settings::read(bench);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    if let Err(error) = runtime.block_on(compare(settings)) {
        eprintln!("benchmark failed: {error}");
        std::process::exit(1);
    }
}
