//! HTTP benchmark: evently against a raw hyper server doing the same work.
//!
//! Both servers answer three endpoints: `GET /hello` with a small HTML page;
//! `POST /api/hello` with `{"name":"Ada"}` by checking the content type,
//! decoding the JSON with serde and answering `{"message":"Hello Ada"}`; and
//! the SOAP 1.1 operation `Add` at `POST /soap/calculator`, where the raw
//! server decodes the envelope with quick-xml's serde support and formats
//! the same response envelope (without evently's safety scan of the XML,
//! its operation dispatch or its fault handling). The
//! raw server is hyper 1.x's HTTP/1.1 connection builder with keep-alive and
//! `TCP_NODELAY`, on a multi-thread tokio runtime with as many workers as
//! evently's, so the difference is evently's own overhead. That includes
//! what evently does and the raw server does not: a timer for the head-read
//! timeout on every request, HTTP/2 detection and graceful shutdown on every
//! connection, and the routing, extraction and panic catching around the
//! handler.
//!
//! Each server runs in a child process (this binary, started again with
//! `EVENTLY_BENCH_SERVER` set), so that its CPU time (utime + stime from
//! `/proc/<pid>/stat`) and peak RSS (`VmHWM`) are its own. The load comes
//! from this process and is the same for both: keep-alive HTTP/1.1
//! connections, each sending its next request as soon as the answer to the
//! last is in, every answer's status and body checked. Rounds alternate
//! between the servers so that noise on the machine hits both, and the table
//! shows the median of each server's rounds. Linux only: it reads `/proc`.
//!
//! ```text
//! cargo bench -p evently --bench http
//! EVENTLY_BENCH_SECS=10 EVENTLY_BENCH_ROUNDS=5 cargo bench -p evently --bench http
//! ```
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `EVENTLY_BENCH_CONNECTIONS` | `32` | keep-alive connections of the load |
//! | `EVENTLY_BENCH_SECS` | `3` | measured seconds per round |
//! | `EVENTLY_BENCH_WARMUP_SECS` | `1` | unmeasured seconds before each round |
//! | `EVENTLY_BENCH_ROUNDS` | `3` | rounds per server and endpoint |
//! | `EVENTLY_BENCH_THREADS` | the number of cores | worker threads of each server |
//!
//! Run without `--bench` (as `cargo test --benches` does), it makes one short
//! round per server and endpoint, only to check that both answer correctly.

use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use evently::prelude::*;
use http::header::{CONTENT_TYPE, HOST, HeaderValue};
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// Set in a child process to the server it runs: `evently` or `hyper`.
const SERVER_VAR: &str = "EVENTLY_BENCH_SERVER";

/// A child announces its port with this line on stdout.
const PORT_LINE: &str = "evently-bench port ";

const PAGE: &str = "<!doctype html><html><head><title>Hello</title></head>\
                    <body><h1>Hello World</h1></body></html>";
const HELLO_REQUEST: &str = r#"{"name":"Ada"}"#;
const HELLO_REPLY: &str = r#"{"message":"Hello Ada"}"#;
const ADD_REQUEST: &str = "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">\
                           <soap:Body><Add xmlns=\"urn:evently:soap:calculator\">\
                           <a>20</a><b>22</b></Add></soap:Body></soap:Envelope>";
const ADD_REPLY: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope \
                         xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" \
                         xmlns:tns=\"urn:evently:soap:calculator\"><soap:Body>\
                         <tns:AddResponse><result>42</result></tns:AddResponse>\
                         </soap:Body></soap:Envelope>";

/// The raw server refuses bodies over evently's default limit too.
const BODY_LIMIT: usize = 2 * 1024 * 1024;

#[derive(Deserialize)]
struct HelloRequest {
    name: String,
}

#[derive(Serialize)]
struct HelloReply {
    message: String,
}

#[derive(Serialize, Deserialize)]
struct Operands {
    a: i64,
    b: i64,
}

#[derive(Serialize, Deserialize)]
struct Sum {
    result: i64,
}

// The evently server.

evently! {
    http GET "/hello" => hello_page;
    rest POST "/api/hello" => hello;
    soap "/soap/calculator" Add => add;
}

async fn hello_page() -> Html<&'static str> {
    Html(PAGE)
}

async fn hello(Json(request): Json<HelloRequest>) -> Json<HelloReply> {
    Json(HelloReply {
        message: format!("Hello {}", request.name),
    })
}

async fn add(Operands { a, b }: Operands) -> Result<Sum, Fault> {
    Ok(Sum { result: a + b })
}

async fn serve_evently() {
    let config = evently::Config::default().http_addr(SocketAddr::from(([127, 0, 0, 1], 0)));
    let app = App::with_config(config).expect("the bench service is valid");
    let running = app.start().await.expect("the bench service binds");
    announce(running.local_addr());
    std::future::pending::<()>().await;
}

// The raw hyper server.

async fn serve_hyper() {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("the raw server binds");
    announce(
        listener
            .local_addr()
            .expect("a bound listener has an address"),
    );
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.keep_alive(true);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = hyper::service::service_fn(raw_answer);
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
}

async fn raw_answer(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = match (req.method(), req.uri().path()) {
        (&Method::GET, "/hello") => raw_response(200, "text/html; charset=utf-8", PAGE.into()),
        (&Method::POST, "/api/hello") => raw_hello(req).await,
        (&Method::POST, "/soap/calculator") => raw_add(req).await,
        _ => raw_response(404, "text/plain", Bytes::new()),
    };
    Ok(response)
}

async fn raw_hello(req: Request<Incoming>) -> Response<Full<Bytes>> {
    let json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !json {
        return raw_response(415, "text/plain", Bytes::new());
    }
    let body = match Limited::new(req.into_body(), BODY_LIMIT).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return raw_response(413, "text/plain", Bytes::new()),
    };
    let Ok(request) = serde_json::from_slice::<HelloRequest>(&body) else {
        return raw_response(400, "text/plain", Bytes::new());
    };
    let reply = HelloReply {
        message: format!("Hello {}", request.name),
    };
    match serde_json::to_vec(&reply) {
        Ok(body) => raw_response(200, "application/json", body.into()),
        Err(_) => raw_response(500, "text/plain", Bytes::new()),
    }
}

/// The raw server's view of an `Add` request envelope.
#[derive(Deserialize)]
struct RawEnvelope {
    #[serde(rename = "Body", alias = "soap:Body")]
    body: RawBody,
}

#[derive(Deserialize)]
struct RawBody {
    #[serde(rename = "Add")]
    add: Operands,
}

async fn raw_add(req: Request<Incoming>) -> Response<Full<Bytes>> {
    let xml = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/xml"));
    if !xml {
        return raw_response(415, "text/plain", Bytes::new());
    }
    let body = match Limited::new(req.into_body(), BODY_LIMIT).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return raw_response(413, "text/plain", Bytes::new()),
    };
    let envelope = std::str::from_utf8(&body)
        .ok()
        .and_then(|text| quick_xml::de::from_str::<RawEnvelope>(text).ok());
    let Some(RawEnvelope {
        body: RawBody { add },
    }) = envelope
    else {
        return raw_response(500, "text/xml; charset=utf-8", Bytes::new());
    };
    let sum = Sum {
        result: add.a + add.b,
    };
    let Ok(response) = quick_xml::se::to_string_with_root("tns:AddResponse", &sum) else {
        return raw_response(500, "text/xml; charset=utf-8", Bytes::new());
    };
    let envelope = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope \
         xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:tns=\"urn:evently:soap:calculator\"><soap:Body>{response}</soap:Body>\
         </soap:Envelope>"
    );
    raw_response(200, "text/xml; charset=utf-8", envelope.into())
}

fn raw_response(status: u16, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = http::StatusCode::from_u16(status).expect("a valid status");
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

// The child process.

/// Runs one server until the parent closes our stdin (or kills us).
fn run_server(kind: &str) {
    let serve = match kind {
        "evently" => ServerKind::Evently,
        "hyper" => ServerKind::Hyper,
        other => panic!("{SERVER_VAR} must be `evently` or `hyper`, found {other:?}"),
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
            ServerKind::Hyper => serve_hyper().await,
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
    Hyper,
}

impl ServerKind {
    fn name(self) -> &'static str {
        match self {
            ServerKind::Evently => "evently",
            ServerKind::Hyper => "hyper",
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

    /// Peak resident set size, in bytes.
    fn peak_rss(&self) -> u64 {
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path).expect("/proc/<pid>/status reads");
        let kib = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().strip_suffix("kB"))
            .and_then(|value| value.trim().parse::<u64>().ok())
            .expect("VmHWM in /proc/<pid>/status");
        kib * 1024
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// The load.

#[derive(Clone, Copy)]
enum Endpoint {
    Page,
    Hello,
    SoapAdd,
}

impl Endpoint {
    fn label(self) -> &'static str {
        match self {
            Endpoint::Page => "GET /hello",
            Endpoint::Hello => "POST /api/hello",
            Endpoint::SoapAdd => "SOAP Add",
        }
    }

    fn request(self, host: &HeaderValue) -> Request<Full<Bytes>> {
        let builder = Request::builder().header(HOST, host.clone());
        let request = match self {
            Endpoint::Page => builder
                .method(Method::GET)
                .uri("/hello")
                .body(Full::new(Bytes::new())),
            Endpoint::Hello => builder
                .method(Method::POST)
                .uri("/api/hello")
                .header(CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from_static(HELLO_REQUEST.as_bytes()))),
            Endpoint::SoapAdd => builder
                .method(Method::POST)
                .uri("/soap/calculator")
                .header(CONTENT_TYPE, "text/xml; charset=utf-8")
                .header("soapaction", "\"urn:evently:soap:calculator/Add\"")
                .body(Full::new(Bytes::from_static(ADD_REQUEST.as_bytes()))),
        };
        request.expect("a valid request")
    }

    fn expected(self) -> &'static str {
        match self {
            Endpoint::Page => PAGE,
            Endpoint::Hello => HELLO_REPLY,
            Endpoint::SoapAdd => ADD_REPLY,
        }
    }
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

/// Loads `server` with `endpoint` for one round.
async fn round(server: &Server, endpoint: Endpoint, settings: &Settings) -> Result<Round, String> {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut clients = JoinSet::new();
    for _ in 0..settings.connections {
        let (stop, done) = (Arc::clone(&stop), Arc::clone(&done));
        clients.spawn(drive(server.addr, endpoint, stop, done));
    }

    // Connect and warm up, unmeasured.
    tokio::time::sleep(settings.warmup).await;

    // Measure a window while every connection is busy.
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
        return Err("no request completed in the round".to_owned());
    }
    Ok(Round {
        requests,
        seconds,
        cpu_seconds: ticks as f64 / settings.clock_ticks as f64,
    })
}

/// One keep-alive connection sending requests back to back until `stop`.
async fn drive(
    addr: SocketAddr,
    endpoint: Endpoint,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
) -> Result<(), String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("cannot set TCP_NODELAY: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake failed: {e}"))?;
    tokio::spawn(connection);

    let host = HeaderValue::from_str(&addr.to_string()).expect("an address is a valid host");
    let expected = endpoint.expected().as_bytes();
    while !stop.load(Ordering::Relaxed) {
        sender
            .ready()
            .await
            .map_err(|e| format!("connection lost: {e}"))?;
        let response = sender
            .send_request(endpoint.request(&host))
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body failed: {e}"))?
            .to_bytes();
        if status != http::StatusCode::OK || body.len() != expected.len() || body != expected {
            return Err(format!(
                "{} answered {status} with {} bytes: {:?}",
                endpoint.label(),
                body.len(),
                String::from_utf8_lossy(&body),
            ));
        }
        done.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

// The comparison.

struct Settings {
    connections: usize,
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
                connections: 4,
                duration: Duration::from_millis(200),
                warmup: Duration::from_millis(50),
                rounds: 1,
                threads,
                clock_ticks,
            };
        }
        Settings {
            connections: number("EVENTLY_BENCH_CONNECTIONS", 32.0) as usize,
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

/// One server's results on one endpoint.
struct Summary {
    per_second: f64,
    rounds: Vec<f64>,
    cpu_micros: f64,
    peak_mib: f64,
}

impl Summary {
    fn new(rounds: &[Round], peak_rss: u64) -> Summary {
        let per_round: Vec<f64> = rounds.iter().map(Round::per_second).collect();
        Summary {
            per_second: median(per_round.clone()),
            rounds: per_round,
            cpu_micros: median(rounds.iter().map(Round::cpu_micros_per_request).collect()),
            peak_mib: peak_rss as f64 / (1024.0 * 1024.0),
        }
    }
}

async fn compare(settings: Settings) -> Result<(), String> {
    println!(
        "evently vs raw hyper: {} keep-alive connections, {} round(s) of {:.1} s per server \
         after {:.1} s of warm-up each, {} server worker threads",
        settings.connections,
        settings.rounds,
        settings.duration.as_secs_f64(),
        settings.warmup.as_secs_f64(),
        settings.threads,
    );
    let mut table = Vec::new();
    for endpoint in [Endpoint::Page, Endpoint::Hello, Endpoint::SoapAdd] {
        // Fresh servers per endpoint, so that peak RSS is the endpoint's.
        let servers = [
            Server::spawn(ServerKind::Evently),
            Server::spawn(ServerKind::Hyper),
        ];
        let mut rounds: [Vec<Round>; 2] = [Vec::new(), Vec::new()];
        for _ in 0..settings.rounds {
            for (server, rounds) in servers.iter().zip(&mut rounds) {
                let measured = round(server, endpoint, &settings).await.map_err(|e| {
                    format!("{} server, {}: {e}", server.kind.name(), endpoint.label())
                })?;
                rounds.push(measured);
            }
        }
        let [evently, hyper] = rounds;
        let evently = Summary::new(&evently, servers[0].peak_rss());
        let hyper = Summary::new(&hyper, servers[1].peak_rss());
        table.push((endpoint, evently, hyper));
    }
    print_table(&table);
    Ok(())
}

fn print_table(table: &[(Endpoint, Summary, Summary)]) {
    println!();
    println!(
        "{:<16} {:<14} {:>10} {:>11} {:>13}   req/s per round",
        "endpoint", "server", "req/s", "CPU µs/req", "peak RSS MiB"
    );
    for (endpoint, evently, hyper) in table {
        for (name, summary) in [("evently", evently), ("hyper", hyper)] {
            let rounds: Vec<String> = summary.rounds.iter().map(|r| format!("{r:.0}")).collect();
            println!(
                "{:<16} {:<14} {:>10.0} {:>11.2} {:>13.2}   {}",
                endpoint.label(),
                name,
                summary.per_second,
                summary.cpu_micros,
                summary.peak_mib,
                rounds.join(" "),
            );
        }
        // Each evently round next to the hyper round that followed it.
        let pairs: Vec<String> = evently
            .rounds
            .iter()
            .zip(&hyper.rounds)
            .map(|(e, h)| format!("{:.3}", e / h))
            .collect();
        println!(
            "{:<16} {:<14} {:>10.3} {:>11.3} {:>13.3}   {}",
            endpoint.label(),
            "evently/hyper",
            evently.per_second / hyper.per_second,
            evently.cpu_micros / hyper.cpu_micros,
            evently.peak_mib / hyper.peak_mib,
            pairs.join(" "),
        );
    }
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
