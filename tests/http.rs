//! The HTTP and REST runtime, tested over real sockets with a real client.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use evently::http::{HeaderMap, Method, Problem, Query, StatusCode};
use evently::prelude::*;
use evently::{Config, Running};
use serde::{Deserialize, Serialize};

#[derive(Clone, Default)]
struct Visits(Arc<AtomicUsize>);

evently! {
    state Visits;

    http GET "/hello" => hello_page;
    http GET "/text" => text;
    rest POST "/api/hello" => hello;
    rest GET "/api/hello/{name}" => hello_by_name;
    rest GET "/api/items/{id}" => item;
    rest GET "/api/pairs/{left}/{right}" => pair;
    rest GET "/api/search" => search;
    rest GET "/api/headers" => headers;
    rest GET "/api/visits" => visits;
    rest PUT "/api/things/{id}" => method_echo;
    rest PATCH "/api/things/{id}" => method_echo;
    rest DELETE "/api/things/{id}" => method_echo;
    rest POST "/api/created" => created;
    rest GET "/api/missing" => missing;
    http GET "/files/{*rest}" => file;
    http GET "/panic" => panics;
    http GET "/slow" => slow;
    http POST "/echo" => echo;
}

#[derive(Deserialize)]
struct HelloRequest {
    name: String,
}

#[derive(Serialize, Deserialize)]
struct HelloReply {
    message: String,
}

async fn hello_page() -> Html<&'static str> {
    Html("<html><body><h1>Hello World</h1></body></html>")
}

async fn text() -> &'static str {
    "plain text"
}

async fn hello(Json(request): Json<HelloRequest>) -> Json<HelloReply> {
    Json(HelloReply {
        message: format!("Hello {}", request.name),
    })
}

async fn hello_by_name(Path(name): Path<String>) -> Json<HelloReply> {
    Json(HelloReply {
        message: format!("Hello {name}"),
    })
}

async fn item(Path(id): Path<u32>) -> Json<u32> {
    Json(id * 2)
}

async fn pair(Path((left, right)): Path<(String, u8)>) -> String {
    format!("{left}:{right}")
}

#[derive(Deserialize)]
struct Search {
    q: String,
    limit: Option<u32>,
}

async fn search(Query(search): Query<Search>) -> String {
    format!("{} {}", search.q, search.limit.unwrap_or(10))
}

async fn headers(headers: HeaderMap) -> String {
    headers
        .get("x-trace")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none")
        .to_owned()
}

async fn visits(State(visits): State<Visits>) -> Json<usize> {
    Json(visits.0.fetch_add(1, Ordering::SeqCst) + 1)
}

async fn method_echo(method: Method, Path(id): Path<u32>) -> String {
    format!("{method} {id}")
}

async fn created(Json(value): Json<serde_json::Value>) -> (StatusCode, Json<serde_json::Value>) {
    (StatusCode::CREATED, Json(value))
}

async fn missing() -> Result<Json<u32>, Problem> {
    Err(Problem::not_found("no such thing"))
}

async fn file(Path(rest): Path<String>) -> String {
    rest
}

async fn panics() -> &'static str {
    panic!("the handler broke")
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_millis(600)).await;
    "finally"
}

async fn echo(body: String) -> String {
    body
}

fn config() -> Config {
    Config::default()
        .http_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
        .body_limit(1024)
        .header_timeout(Duration::from_millis(300))
        .shutdown_timeout(Duration::from_secs(5))
}

async fn start_with(config: Config) -> (Running, String) {
    let running = App::with_config(config, Visits::default())
        .expect("the app builds")
        .start()
        .await
        .expect("the app starts");
    let base = format!("http://{}", running.local_addr());
    (running, base)
}

async fn start() -> (Running, String) {
    start_with(config()).await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

async fn problem(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let document: serde_json::Value = response.json().await.unwrap();
    assert_eq!(document["status"], status);
    document
}

#[tokio::test]
async fn html_page() {
    let (running, base) = start().await;
    let response = client().get(format!("{base}/hello")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    assert!(response.text().await.unwrap().contains("Hello World"));

    let response = client().get(format!("{base}/text")).send().await.unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    assert_eq!(response.text().await.unwrap(), "plain text");
    running.shutdown().await;
}

#[tokio::test]
async fn json_in_json_out() {
    let (running, base) = start().await;
    let response = client()
        .post(format!("{base}/api/hello"))
        .json(&serde_json::json!({"name": "Ada"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let reply: HelloReply = response.json().await.unwrap();
    assert_eq!(reply.message, "Hello Ada");

    let response = client()
        .get(format!("{base}/api/hello/Ada%20Lovelace"))
        .send()
        .await
        .unwrap();
    let reply: HelloReply = response.json().await.unwrap();
    assert_eq!(reply.message, "Hello Ada Lovelace");
    running.shutdown().await;
}

#[tokio::test]
async fn path_query_header_and_state_extractors() {
    let (running, base) = start().await;
    let client = client();
    let get = |path: &str| client.get(format!("{base}{path}")).send();

    assert_eq!(
        get("/api/items/21").await.unwrap().text().await.unwrap(),
        "42"
    );
    assert_eq!(
        get("/api/pairs/a/7").await.unwrap().text().await.unwrap(),
        "a:7"
    );
    assert_eq!(
        get("/api/search?q=rust&limit=3")
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "rust 3"
    );
    assert_eq!(
        get("/api/search?q=rust")
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "rust 10"
    );
    assert_eq!(
        get("/files/a/b/c.txt").await.unwrap().text().await.unwrap(),
        "a/b/c.txt"
    );

    let traced = client
        .get(format!("{base}/api/headers"))
        .header("x-trace", "t-1");
    assert_eq!(traced.send().await.unwrap().text().await.unwrap(), "t-1");

    assert_eq!(get("/api/visits").await.unwrap().text().await.unwrap(), "1");
    assert_eq!(get("/api/visits").await.unwrap().text().await.unwrap(), "2");
    running.shutdown().await;
}

#[tokio::test]
async fn every_method_and_status_responses() {
    let (running, base) = start().await;
    let client = client();
    for method in [
        reqwest::Method::PUT,
        reqwest::Method::PATCH,
        reqwest::Method::DELETE,
    ] {
        let response = client
            .request(method.clone(), format!("{base}/api/things/5"))
            .send();
        assert_eq!(
            response.await.unwrap().text().await.unwrap(),
            format!("{method} 5")
        );
    }

    let response = client
        .post(format!("{base}/api/created"))
        .json(&serde_json::json!({"id": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.text().await.unwrap(), r#"{"id":1}"#);

    let response = client
        .get(format!("{base}/api/missing"))
        .send()
        .await
        .unwrap();
    let document = problem(response, 404).await;
    assert_eq!(document["detail"], "no such thing");
    running.shutdown().await;
}

#[tokio::test]
async fn head_and_options_are_answered() {
    let (running, base) = start().await;
    let client = client();
    let response = client.head(format!("{base}/hello")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-length"], "46");
    assert_eq!(response.bytes().await.unwrap().len(), 0);

    let response = client.request(reqwest::Method::OPTIONS, format!("{base}/api/things/1"));
    let response = response.send().await.unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(response.headers()["allow"], "PUT, PATCH, DELETE, OPTIONS");
    running.shutdown().await;
}

#[tokio::test]
async fn bad_json_gets_400_415_and_422() {
    let (running, base) = start().await;
    let client = client();
    let url = format!("{base}/api/hello");

    let malformed = client
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"name\"");
    let document = problem(malformed.send().await.unwrap(), 400).await;
    assert!(
        document["detail"]
            .as_str()
            .unwrap()
            .contains("malformed JSON"),
        "{document}"
    );

    let wrong_type = client
        .post(&url)
        .header("content-type", "text/plain")
        .body("{}");
    problem(wrong_type.send().await.unwrap(), 415).await;

    let no_type = client.post(&url).body(r#"{"name": "Ada"}"#);
    problem(no_type.send().await.unwrap(), 415).await;

    let misfit = client.post(&url).json(&serde_json::json!({"name": 5}));
    let document = problem(misfit.send().await.unwrap(), 422).await;
    assert_eq!(document["field"], "name");

    let missing = client.post(&url).json(&serde_json::json!({"nom": "Ada"}));
    let document = problem(missing.send().await.unwrap(), 422).await;
    assert_eq!(document["field"], "name");
    running.shutdown().await;
}

#[tokio::test]
async fn bad_path_and_query_values_get_400() {
    let (running, base) = start().await;
    let client = client();
    let response = client
        .get(format!("{base}/api/items/seven"))
        .send()
        .await
        .unwrap();
    let document = problem(response, 400).await;
    assert_eq!(document["field"], "id");

    let response = client
        .get(format!("{base}/api/pairs/a/300"))
        .send()
        .await
        .unwrap();
    problem(response, 400).await;

    let response = client
        .get(format!("{base}/api/search?limit=3"))
        .send()
        .await
        .unwrap();
    problem(response, 400).await;
    running.shutdown().await;
}

#[tokio::test]
async fn unknown_routes_get_404_and_wrong_methods_405() {
    let (running, base) = start().await;
    let client = client();
    let response = client.get(format!("{base}/nowhere")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );

    let response = client
        .get(format!("{base}/nowhere"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    problem(response, 404).await;

    let response = client
        .delete(format!("{base}/api/hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "POST, OPTIONS");
    problem(response, 405).await;

    let response = client.post(format!("{base}/hello")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, HEAD, OPTIONS");
    running.shutdown().await;
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let (running, base) = start().await;
    let client = client();
    let big = format!(r#"{{"name": "{}"}}"#, "a".repeat(2000));
    let response = client
        .post(format!("{base}/api/hello"))
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    problem(response, 413).await;

    // Without a content-length the limit is enforced while reading.
    let chunks = futures_chunks(big.into_bytes());
    let response = client
        .post(format!("{base}/echo"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);

    let response = client
        .post(format!("{base}/echo"))
        .body("small")
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "small");
    running.shutdown().await;
}

fn futures_chunks(
    bytes: Vec<u8>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    let chunks: Vec<_> = bytes.chunks(100).map(|c| Ok(c.to_vec())).collect();
    futures_util::stream::iter(chunks)
}

/// Sends raw bytes and returns what the server answered before closing or
/// going quiet.
fn raw_exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                answer.extend_from_slice(&buffer[..n]);
                if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_heads_get_431() {
    let (running, _) = start().await;
    let addr = running.local_addr();

    let long_header = format!(
        "GET /hello HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    let answer = tokio::task::spawn_blocking(move || raw_exchange(addr, long_header.as_bytes()));
    assert!(answer.await.unwrap().starts_with("HTTP/1.1 431"));

    let mut many = String::from("GET /hello HTTP/1.1\r\nhost: x\r\n");
    for i in 0..150 {
        many.push_str(&format!("x-h{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let answer = tokio::task::spawn_blocking(move || raw_exchange(addr, many.as_bytes()));
    assert!(answer.await.unwrap().starts_with("HTTP/1.1 431"));
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_400() {
    let (running, _) = start().await;
    let addr = running.local_addr();
    let answer =
        tokio::task::spawn_blocking(move || raw_exchange(addr, b"NOT HTTP AT ALL\r\n\r\n"));
    assert!(answer.await.unwrap().starts_with("HTTP/1.1 400"));
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_head_is_cut_off() {
    let (running, _) = start().await;
    let addr = running.local_addr();
    let closed = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
            .write_all(b"GET /hello HTTP/1.1\r\nhost: x\r\n")
            .unwrap();
        // Never finish the head: the server must give up on its own.
        let mut answer = Vec::new();
        let result = stream.read_to_end(&mut answer);
        (
            result.is_ok(),
            String::from_utf8_lossy(&answer).into_owned(),
        )
    });
    let (ended, answer) = closed.await.unwrap();
    assert!(
        ended,
        "the server kept the connection open past the head timeout"
    );
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );

    // The server still serves.
    let response = client()
        .get(format!("http://{addr}/text"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    running.shutdown().await;
}

#[tokio::test]
async fn a_panicking_handler_gets_500_and_the_server_goes_on() {
    let (running, base) = start().await;
    let client = client();
    for _ in 0..3 {
        let response = client.get(format!("{base}/panic")).send().await.unwrap();
        assert_eq!(response.status(), 500);
    }
    let response = client.get(format!("{base}/text")).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "plain text");
    running.shutdown().await;
}

#[tokio::test]
async fn http2_with_prior_knowledge() {
    let (running, base) = start().await;
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let response = client
        .post(format!("{base}/api/hello"))
        .json(&serde_json::json!({"name": "Ada"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    let reply: HelloReply = response.json().await.unwrap();
    assert_eq!(reply.message, "Hello Ada");

    let response = client.get(format!("{base}/nowhere")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    running.shutdown().await;
}

#[tokio::test]
async fn keep_alive_reuses_one_connection() {
    let (running, _) = start().await;
    let addr = running.local_addr();
    let answers = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let request = b"GET /text HTTP/1.1\r\nhost: x\r\n\r\n";
        let mut answers = 0;
        for _ in 0..3 {
            stream.write_all(request).unwrap();
            let mut buffer = [0; 1024];
            let n = stream.read(&mut buffer).unwrap();
            if String::from_utf8_lossy(&buffer[..n]).ends_with("plain text") {
                answers += 1;
            }
        }
        answers
    });
    assert_eq!(answers.await.unwrap(), 3);
    running.shutdown().await;
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight() {
    let (running, base) = start().await;
    let addr = running.local_addr();
    let in_flight = tokio::spawn(client().get(format!("{base}/slow")).send());
    tokio::time::sleep(Duration::from_millis(150)).await;

    running.shutdown().await;
    let response = in_flight
        .await
        .unwrap()
        .expect("the request in flight was answered");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "finally");

    // Nothing listens any more.
    assert!(TcpStream::connect(addr).is_err());
}

#[tokio::test]
async fn tower_layers_wrap_the_service() {
    use tower_http::set_header::SetResponseHeaderLayer;

    let app = App::with_config(config(), Visits::default())
        .unwrap()
        .layer(SetResponseHeaderLayer::overriding(
            evently::http::header::HeaderName::from_static("x-layer"),
            evently::http::header::HeaderValue::from_static("yes"),
        ));
    let running = app.start().await.unwrap();
    let response = client()
        .get(format!("http://{}/api/items/1", running.local_addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-layer"], "yes");
    assert_eq!(response.text().await.unwrap(), "2");
    running.shutdown().await;
}

#[test]
fn the_topology_is_described() {
    let bindings = App::TOPOLOGY.bindings();
    assert_eq!(bindings.len(), 18);
    assert_eq!(bindings[2].method(), Some("POST"));
    assert_eq!(bindings[2].path(), Some("/api/hello"));
    assert_eq!(bindings[2].handler(), "hello");
    assert_eq!(App::TOPOLOGY.to_string(), "6 http routes, 12 rest routes");
}

#[test]
fn a_busy_address_is_a_bind_error() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (running, _) = start().await;
        let taken = config().http_addr(running.local_addr());
        let error = App::with_config(taken, Visits::default())
            .unwrap()
            .start()
            .await
            .unwrap_err();
        assert!(error.is_bind(), "{error}");
        running.shutdown().await;
    });
}

/// The value of the metrics line that starts with `series`, or 0 when the
/// page has none (Prometheus leaves out counters that never moved).
fn metric(page: &str, series: &str) -> f64 {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |value| value.parse().unwrap())
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let (running, base) = start().await;
    let client = client();
    for _ in 0..3 {
        let response = client.get(format!("{base}/hello")).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
    let response = client
        .get(format!("{base}/api/items/7"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = client
        .get(format!("{base}/api/missing"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let response = client.get(format!("{base}/panic")).send().await.unwrap();
    assert_eq!(response.status(), 500);
    let response = client.get(format!("{base}/nowhere")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let response = client.delete(format!("{base}/hello")).send().await.unwrap();
    assert_eq!(response.status(), 405);

    let response = client
        .get(format!("{base}/_evently/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let page = response.text().await.unwrap();
    let requests =
        |labels: &str| metric(&page, &format!("evently_http_requests_total{{{labels}}}"));
    assert_eq!(requests(r#"method="GET",route="/hello",status="2xx""#), 3.0);
    assert_eq!(
        requests(r#"method="GET",route="/api/items/{id}",status="2xx""#),
        1.0
    );
    assert_eq!(
        requests(r#"method="GET",route="/api/missing",status="4xx""#),
        1.0
    );
    assert_eq!(requests(r#"method="GET",route="/panic",status="5xx""#), 1.0);
    // No handler ran for these two.
    assert_eq!(requests(r#"method="",route="",status="4xx""#), 2.0);

    let hello = r#"method="GET",route="/hello""#;
    let count = metric(
        &page,
        &format!("evently_http_request_duration_seconds_count{{{hello}}}"),
    );
    assert_eq!(count, 3.0);
    let slowest = metric(
        &page,
        &format!("evently_http_request_duration_seconds_bucket{{{hello},le=\"+Inf\"}}"),
    );
    assert_eq!(slowest, 3.0);
    assert!(page.contains("# TYPE evently_http_request_duration_seconds histogram"));
    // A service without a broker shows no broker series.
    assert!(!page.contains("evently_amqp_connected"));
    assert_eq!(metric(&page, "evently_ws_sessions_open"), 0.0);
    running.shutdown().await;
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let (running, base) = start().await;
    let response = client()
        .get(format!("{base}/_evently/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let doc: serde_json::Value = response.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "evently");
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(paths.len(), 16, "{:#}", doc["paths"]);
    let things = paths["/api/things/{id}"].as_object().unwrap();
    let methods: Vec<_> = things.keys().map(String::as_str).collect();
    assert_eq!(methods, ["delete", "patch", "put"]);

    // A JSON body, its schema traced from the type.
    let post = &doc["paths"]["/api/hello"]["post"];
    assert_eq!(post["operationId"], "hello");
    let body = &post["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(body["$ref"], "#/components/schemas/HelloRequest");
    let schema = &doc["components"]["schemas"]["HelloRequest"];
    assert_eq!(schema["properties"]["name"]["type"], "string");
    assert_eq!(schema["required"], serde_json::json!(["name"]));
    assert!(post["responses"]["200"]["content"]["application/json"].is_object());
    assert_eq!(
        post["responses"]["422"]["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/Problem"
    );

    // Path parameters, typed from `Path<T>`, in template order.
    let pair = &doc["paths"]["/api/pairs/{left}/{right}"]["get"]["parameters"];
    assert_eq!(pair[0]["name"], "left");
    assert_eq!(pair[0]["schema"]["type"], "string");
    assert_eq!(pair[1]["name"], "right");
    assert_eq!(pair[1]["schema"]["type"], "integer");
    let item = &doc["paths"]["/api/items/{id}"]["get"]["parameters"][0];
    assert_eq!(
        (&item["in"], &item["required"]),
        (&"path".into(), &true.into())
    );
    assert!(doc["paths"]["/files/{rest}"]["get"].is_object());

    // Query parameters from the fields of `Query<T>`; an `Option` is optional.
    let search = doc["paths"]["/api/search"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let by_name = |name: &str| search.iter().find(|p| p["name"] == name).unwrap();
    assert_eq!(by_name("q")["in"], "query");
    assert_eq!(by_name("q")["required"], true);
    assert_eq!(by_name("limit")["required"], false);

    // What handlers answer: a page, text, problems, a status set at run time.
    let page = &doc["paths"]["/hello"]["get"]["responses"]["200"]["content"];
    assert!(page["text/html"].is_object());
    let missing = &doc["paths"]["/api/missing"]["get"]["responses"];
    assert!(missing["4XX"]["content"]["application/problem+json"].is_object());
    let created = &doc["paths"]["/api/created"]["post"]["responses"];
    assert!(created["default"]["content"]["application/json"].is_object());
    let echo = &doc["paths"]["/echo"]["post"]["requestBody"]["content"];
    assert!(echo["text/plain"].is_object());

    // A page that shows it.
    let response = client()
        .get(format!("{base}/_evently/docs"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    assert!(response.text().await.unwrap().contains("openapi.json"));
    running.shutdown().await;
}
