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
use std::net::SocketAddr;

use bytes::Bytes;
use evently::prelude::*;
use http::header::{CONTENT_TYPE, HOST, HeaderValue};
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};

mod common;

use common::{Clients, Round, Server, Settings, Summary, Tally};

/// The name of the server evently is compared with.
const RIVAL: &str = "hyper";

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
    let app = App::with_config(common::evently_config()).expect("the bench service is valid");
    let running = app.start().await.expect("the bench service binds");
    common::keep_serving(running).await;
}

// The raw hyper server.

async fn serve_hyper() {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.keep_alive(true);
    let service = hyper::service::service_fn(raw_answer);
    common::serve_connections(|stream| builder.serve_connection(TokioIo::new(stream), service))
        .await;
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

/// Loads `server` with `endpoint` for one round.
async fn round(
    server: &Server,
    endpoint: Endpoint,
    load: &Load,
    settings: &Settings,
) -> Result<Round, String> {
    let mut clients = Clients::new();
    for _ in 0..load.connections {
        clients.spawn(|tally| drive(server.addr, endpoint, tally));
    }
    let nothing = "no request completed in the round";
    clients.measure(server, settings, nothing).await
}

/// One keep-alive connection sending requests back to back until the round
/// stops.
async fn drive(addr: SocketAddr, endpoint: Endpoint, tally: Tally) -> Result<(), String> {
    let stream = common::connect(addr).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake failed: {e}"))?;
    tokio::spawn(connection);

    let host = HeaderValue::from_str(&addr.to_string()).expect("an address is a valid host");
    let expected = endpoint.expected().as_bytes();
    while !tally.is_stopped() {
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
        tally.add_one();
    }
    Ok(())
}

// The comparison.

/// The shape of the load; [`Settings`] has the rest.
struct Load {
    connections: usize,
}

impl Load {
    fn read(bench: bool) -> Load {
        Load {
            connections: common::setting(bench, "EVENTLY_BENCH_CONNECTIONS", 32.0, 4.0) as usize,
        }
    }
}

/// One server's results on one endpoint.
struct Outcome {
    summary: Summary,
    peak_mib: f64,
}

impl Outcome {
    fn new(summary: Summary, server: &Server) -> Outcome {
        Outcome {
            summary,
            peak_mib: server.peak_rss() as f64 / (1024.0 * 1024.0),
        }
    }
}

async fn compare(settings: Settings, load: Load) -> Result<(), String> {
    println!(
        "evently vs raw hyper: {} keep-alive connections, {settings}",
        load.connections
    );
    let mut table = Vec::new();
    for endpoint in [Endpoint::Page, Endpoint::Hello, Endpoint::SoapAdd] {
        // Fresh servers per endpoint, so that peak RSS is the endpoint's.
        let servers = [Server::spawn("evently"), Server::spawn(RIVAL)];
        let what = Some(endpoint.label());
        let [evently, hyper] = common::alternate(&servers, &settings, what, async |server| {
            round(server, endpoint, &load, &settings).await
        })
        .await?;
        let evently = Outcome::new(evently, &servers[0]);
        let hyper = Outcome::new(hyper, &servers[1]);
        table.push((endpoint, evently, hyper));
    }
    print_table(&table);
    Ok(())
}

fn print_table(table: &[(Endpoint, Outcome, Outcome)]) {
    println!();
    println!(
        "{:<16} {:<14} {:>10} {:>11} {:>13}   req/s per round",
        "endpoint", "server", "req/s", "CPU µs/req", "peak RSS MiB"
    );
    for (endpoint, evently, hyper) in table {
        for (name, outcome) in [("evently", evently), ("hyper", hyper)] {
            println!(
                "{:<16} {:<14} {:>10.0} {:>11.2} {:>13.2}   {}",
                endpoint.label(),
                name,
                outcome.summary.per_second,
                outcome.summary.cpu_micros,
                outcome.peak_mib,
                outcome.summary.per_round(),
            );
        }
        println!(
            "{:<16} {:<14} {:>10.3} {:>11.3} {:>13.3}   {}",
            endpoint.label(),
            "evently/hyper",
            evently.summary.per_second / hyper.summary.per_second,
            evently.summary.cpu_micros / hyper.summary.cpu_micros,
            evently.peak_mib / hyper.peak_mib,
            evently.summary.ratios(&hyper.summary),
        );
    }
}

fn main() {
    common::serve_if_child(RIVAL, serve_evently, serve_hyper);
    let bench = common::is_bench();
    common::run(compare(Settings::read(bench), Load::read(bench)));
}
