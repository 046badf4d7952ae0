//! The `tour` example as a user runs it: a process, real sockets, SIGTERM,
//! and logs that never carry the broker password.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The example binary cargo built beside this test.
fn tour_binary() -> PathBuf {
    let mut path = std::env::current_exe().expect("the test binary has a path");
    path.pop();
    if path.ends_with("deps") {
        path.pop();
    }
    path.join("examples").join("tour")
}

/// A running tour and everything it logged so far.
struct Tour {
    child: Child,
    base: String,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
}

impl Tour {
    /// Starts the tour on a free port with extra environment variables, and
    /// reads its address from the startup line.
    fn start(env: &[(&str, &str)]) -> Tour {
        let binary = tour_binary();
        assert!(
            binary.exists(),
            "{} is missing: run `cargo build --examples`",
            binary.display()
        );
        let mut child = Command::new(binary)
            .env("EVENTLY_HTTP_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the tour starts");

        // Both streams feed one channel, so the child never blocks on a pipe.
        let (sender, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let to_stdout = sender.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = to_stdout.send(line);
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            for line in text.lines() {
                let _ = sender.send(line.to_owned());
            }
        });

        let mut tour = Tour {
            child,
            base: String::new(),
            lines,
            log: Vec::new(),
        };
        let line = tour.wait_for("listening on ");
        tour.base = line
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in the startup line: {line}"))
            .to_owned();
        tour
    }

    /// Waits up to 15 s for a log line containing `text`.
    fn wait_for(&mut self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no log line with {text:?} in:\n{}", self.log.join("\n"));
    }

    /// Sends SIGTERM and returns the exit status with the whole log.
    fn stop(mut self) -> (ExitStatus, String) {
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        assert!(sent.unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                self.child.kill().unwrap();
                panic!("the tour did not stop within 10 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The reader threads end with the process.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
            self.log.push(line);
        }
        (status, self.log.join("\n"))
    }
}

#[tokio::test]
async fn the_tour_answers_and_stops_on_sigterm() {
    let mut tour = Tour::start(&[]);
    assert!(
        tour.log[0].contains(
            "2 http routes, 4 rest routes, 2 ws routes, 3 amqp consumers, 2 grpc methods, \
             2 soap operations, 6 producers"
        ),
        "{}",
        tour.log[0]
    );
    let client = reqwest::Client::new();
    let base = tour.base.clone();

    let page = client.get(format!("{base}/hello")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Hello World"));

    let reply = client
        .post(format!("{base}/api/hello"))
        .json(&serde_json::json!({"name": "Ada"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.text().await.unwrap(), r#"{"message":"Hello Ada"}"#);

    let reply = client
        .get(format!("{base}/api/hello/Ada"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.text().await.unwrap(), r#"{"message":"Hello Ada"}"#);

    let stream = client
        .get(format!("{base}/hello/stream"))
        .send()
        .await
        .unwrap();
    let text = stream.text().await.unwrap();
    assert_eq!(text.matches("<p>").count(), 5, "{text}");

    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("{}/ws/echo", base.replace("http", "ws")))
            .await
            .unwrap();
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    socket
        .send(Message::text(r#"{"hello":"json"}"#))
        .await
        .unwrap();
    assert_eq!(
        socket.next().await.unwrap().unwrap(),
        Message::text(r#"{"hello":"json"}"#)
    );
    socket.close(None).await.unwrap();
    tour.wait_for("streamed 5 chunks");

    let order = client
        .post(format!("{base}/api/orders"))
        .json(&serde_json::json!({"item": "tea", "quantity": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(order.status(), 202);

    // A REST call publishes to a fanout exchange; the tour's subscription
    // hears it.
    let announced = client
        .post(format!("{base}/api/announcements"))
        .json(&serde_json::json!({"text": "tea is ready"}))
        .send()
        .await
        .unwrap();
    assert_eq!(announced.status(), 202);
    let heard = tour.wait_for("announcement heard");
    assert!(heard.contains("tea is ready"), "{heard}");

    let divide = |b: i64| {
        format!(
            "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>\
             <Divide><a>7</a><b>{b}</b></Divide></s:Body></s:Envelope>"
        )
    };
    let quotient = client
        .post(format!("{base}/soap/calculator"))
        .header("content-type", "text/xml")
        .body(divide(2))
        .send()
        .await
        .unwrap();
    assert_eq!(quotient.status(), 200);
    assert!(
        quotient
            .text()
            .await
            .unwrap()
            .contains("<result>3</result>")
    );
    let by_zero = client
        .post(format!("{base}/soap/calculator"))
        .header("content-type", "text/xml")
        .body(divide(0))
        .send()
        .await
        .unwrap();
    assert_eq!(by_zero.status(), 500);
    let fault = by_zero.text().await.unwrap();
    assert!(
        fault.contains("soap:Client") && fault.contains("cannot divide by zero"),
        "{fault}"
    );

    let (status, _) = tour.stop();
    assert!(status.success(), "the tour exited with {status}");
}

/// Runs the stock client `script` of `tests/interop` with `args` in the
/// virtual environment `bash .ci/test` makes, and returns what it printed;
/// `what` names the client in a failure.
fn interop(what: &str, script: &str, args: &[String]) -> String {
    let python = std::env::var("EVENTLY_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "EVENTLY_TEST_PYTHON is not set: `bash .ci/test` installs the stock clients into \
             a virtual environment and sets it"
        )
    });
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = Command::new(&python)
        .arg(root.join("tests/interop").join(script))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{python} cannot be run ({e}): run `bash .ci/test`"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn repository(path: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    root.join(path).display().to_string()
}

/// The signal handlers are in place before the listener is, so a SIGTERM
/// that comes the moment the service says it listens still shuts it down
/// cleanly instead of killing it. Several tries, to meet the moment.
#[test]
fn a_sigterm_right_after_startup_shuts_down_cleanly() {
    for _ in 0..3 {
        let tour = Tour::start(&[]);
        let (status, log) = tour.stop();
        assert!(status.success(), "the tour exited with {status}:\n{log}");
        assert!(log.contains("SIGTERM received"), "{log}");
    }
}

#[test]
fn the_tour_greets_a_stock_grpc_client() {
    let tour = Tour::start(&[]);
    let stdout = interop(
        "the grpcio client",
        "grpc_client.py",
        &[
            repository("examples/proto/tour.proto"),
            tour.base.trim_start_matches("http://").to_owned(),
        ],
    );
    assert!(stdout.contains("unary: Hello Ada\n"), "{stdout}");
    assert_eq!(
        stdout.matches("stream: Hello Ada, reply").count(),
        5,
        "{stdout}"
    );
    let (status, _) = tour.stop();
    assert!(status.success(), "the tour exited with {status}");
}

#[test]
fn the_tour_calculates_for_a_stock_soap_client() {
    let tour = Tour::start(&[]);
    let stdout = interop(
        "the zeep client",
        "soap_client.py",
        &[format!("{}/soap/calculator?wsdl", tour.base)],
    );
    let seen: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(seen["add"], 3, "{seen}");
    assert_eq!(seen["divide"], 3, "{seen}");
    assert_eq!(seen["add12"], 12, "{seen}");
    for fault in ["fault", "fault12"] {
        assert_eq!(seen[fault]["message"], "cannot divide by zero", "{seen}");
    }
    assert!(seen.get("echo").is_none(), "{seen}");
    let (status, _) = tour.stop();
    assert!(status.success(), "the tour exited with {status}");
}

#[test]
fn the_tours_openapi_document_passes_a_stock_validator() {
    let tour = Tour::start(&[]);
    let stdout = interop(
        "openapi-spec-validator",
        "openapi_check.py",
        &[format!("{}/_evently/openapi.json", tour.base)],
    );
    let seen: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(seen["openapi"], "3.1.0", "{seen}");
    let operations = seen["operations"].as_object().unwrap();
    for operation in [
        "GET /hello",
        "POST /api/hello",
        "GET /api/hello/{name}",
        "POST /api/orders",
        "GET /hello/stream",
    ] {
        assert!(operations.contains_key(operation), "{operation}: {seen}");
    }
    // A request whose messages the broker refuses is answered 503.
    let orders = operations["POST /api/orders"].as_array().unwrap();
    assert!(orders.contains(&"503".into()), "{seen}");
    // WebSocket, SOAP and gRPC entries have contracts of their own.
    assert!(!operations.keys().any(|k| k.contains("/ws/")), "{seen}");
    let (status, _) = tour.stop();
    assert!(status.success(), "the tour exited with {status}");
}

#[tokio::test]
async fn the_tour_describes_its_channels_and_shows_its_topology() {
    let tour = Tour::start(&[]);
    let doc: serde_json::Value = reqwest::get(format!("{}/_evently/asyncapi.json", tour.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["asyncapi"], "3.0.0");
    assert_eq!(doc["servers"]["broker"]["protocol"], "memory");
    let channels = &doc["channels"];
    for queue in ["first-queue", "second-queue", "orders", "hello", "received"] {
        let channel = &channels[format!("queue-{queue}")];
        assert_eq!(channel["address"], queue, "{doc:#}");
        assert_eq!(channel["bindings"]["amqp"]["is"], "queue");
    }
    let chat = &channels["exchange-chat"];
    assert_eq!(chat["bindings"]["amqp"]["exchange"]["type"], "fanout");
    assert_eq!(channels["ws-ws-chat"]["address"], "/ws/chat");
    assert_eq!(channels["ws-ws-echo"]["address"], "/ws/echo");

    // Every operation points at a channel the document has.
    let operations = doc["operations"].as_object().unwrap();
    for (id, operation) in operations {
        let reference = operation["channel"]["$ref"].as_str().unwrap();
        let channel = reference.strip_prefix("#/channels/").unwrap();
        assert!(
            channels.get(channel).is_some(),
            "{id} points at {reference}"
        );
    }
    let action = |id: &str| operations[id]["action"].as_str().unwrap().to_owned();
    assert_eq!(action("relay.receive"), "receive");
    assert_eq!(action("place_order.send.0"), "send");
    assert_eq!(action("chat.receive.0"), "receive");
    assert_eq!(action("chat.send.1"), "send");

    let page = reqwest::get(format!("{}/_evently/topology", tour.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "<code>ws &quot;/ws/chat&quot;</code>",
        "<code>+ subscribe &quot;chat&quot; fanout</code>",
        "<code>+ produce &quot;received&quot; instantly</code>",
        "<code>soap &quot;/soap/calculator&quot; Divide</code>",
        "<code>grpc &quot;tour.Greeter/SayHello&quot;</code>",
        "<a href=\"/soap/calculator?wsdl\">",
    ] {
        assert!(page.contains(line), "{line} is not on the page:\n{page}");
    }
    let (status, _) = tour.stop();
    assert!(status.success(), "the tour exited with {status}");
}

#[test]
fn the_tours_asyncapi_document_passes_the_official_schema() {
    let schema = std::env::var("EVENTLY_TEST_ASYNCAPI_SCHEMA").unwrap_or_else(|_| {
        panic!("EVENTLY_TEST_ASYNCAPI_SCHEMA is not set: `bash .ci/test` fetches it and sets it")
    });
    let tour = Tour::start(&[]);
    let stdout = interop(
        "the AsyncAPI schema check",
        "asyncapi_check.py",
        &[schema, format!("{}/_evently/asyncapi.json", tour.base)],
    );
    let seen: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(seen["channels"].as_array().unwrap().len(), 9, "{seen}");
    let (status, _) = tour.stop();
    assert!(status.success(), "the tour exited with {status}");
}

fn rabbit_url() -> String {
    std::env::var("EVENTLY_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

/// Reads `queue` with `basic.get` until `count` messages containing `tag`
/// arrived or 15 s passed, acking what it takes.
async fn take_tagged(
    channel: &lapin::Channel,
    queue: &str,
    tag: &str,
    count: usize,
) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut mine = Vec::new();
    while mine.len() < count && Instant::now() < deadline {
        let got = channel
            .basic_get(
                queue.into(),
                lapin::options::BasicGetOptions { no_ack: true },
            )
            .await
            .unwrap();
        match got {
            Some(message) => {
                let text = String::from_utf8_lossy(&message.delivery.data).into_owned();
                if text.contains(tag) {
                    mine.push(text);
                }
            }
            None => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    mine
}

/// On RabbitMQ: the tour relays `first-queue` to `second-queue` twice per
/// message, and `/ws/chat` publishes what the client says to `received`
/// and pushes what the `chat` exchange carries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tour_relays_queues_and_bridges_chat_on_rabbitmq() {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;

    let url = rabbit_url();
    let mut tour = Tour::start(&[("EVENTLY_AMQP_URL", &url)]);
    tour.wait_for("connected to the broker");
    let connection = lapin::Connection::connect(&url, lapin::ConnectionProperties::default())
        .await
        .expect("RabbitMQ is reachable: `bash .ci/test` installs and starts it");
    let channel = connection.create_channel().await.unwrap();
    let tag = format!("tour-{}-{:?}", std::process::id(), Instant::now());

    // first-queue -> second-queue, `received` at once and `processed` after.
    let payload = serde_json::to_vec(&serde_json::json!({ "tag": tag })).unwrap();
    channel
        .basic_publish(
            "".into(),
            "first-queue".into(),
            lapin::options::BasicPublishOptions::default(),
            &payload,
            lapin::BasicProperties::default().with_content_type("application/json".into()),
        )
        .await
        .unwrap();
    let relayed = take_tagged(&channel, "second-queue", &tag, 2).await;
    let mut keys: Vec<String> = relayed
        .iter()
        .map(|text| {
            let value: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(value.as_object().unwrap().len(), 1, "{text}");
            let (key, inner) = value.as_object().unwrap().iter().next().unwrap();
            assert_eq!(inner["tag"], tag.as_str(), "{text}");
            key.clone()
        })
        .collect();
    keys.sort();
    assert_eq!(keys, ["processed", "received"]);

    // /ws/chat: the client's text goes to `received`; the exchange's
    // messages come to the client.
    let ws_url = format!("{}/ws/chat", tour.base.replacen("http", "ws", 1));
    let (mut socket, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
    socket
        .send(Message::text(format!("hello from {tag}")))
        .await
        .unwrap();
    let said = take_tagged(&channel, "received", &tag, 1).await;
    assert_eq!(said.len(), 1);
    let said: serde_json::Value = serde_json::from_str(&said[0]).unwrap();
    assert_eq!(said["message"], format!("hello from {tag}"));

    let news = format!("{{\"news\": \"{tag}\"}}");
    channel
        .basic_publish(
            "chat".into(),
            "".into(),
            lapin::options::BasicPublishOptions::default(),
            news.as_bytes(),
            lapin::BasicProperties::default(),
        )
        .await
        .unwrap();
    let pushed = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => return text.to_string(),
                Some(Ok(_)) => continue,
                other => panic!("the chat socket ended: {other:?}"),
            }
        }
    })
    .await
    .expect("the chat message reaches the client");
    assert_eq!(pushed, news);

    let _ = socket.close(None).await;
    let _ = connection.close(200, "done".into()).await;
    let (status, _) = tour.stop();
    assert!(status.success(), "the tour exited with {status}");
}

fn rabbitmqctl(args: &[&str]) {
    let output = Command::new("rabbitmqctl").args(args).output();
    let output = output.expect("rabbitmqctl runs: `bash .ci/test` installs RabbitMQ");
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() || text.contains("already exists"),
        "{text}"
    );
}

#[tokio::test]
async fn the_broker_password_never_reaches_the_logs() {
    let password = format!("pw-{}", std::process::id());
    rabbitmqctl(&["add_user", "evently-secret-test", &password]);
    rabbitmqctl(&["change_password", "evently-secret-test", &password]);
    rabbitmqctl(&[
        "set_permissions",
        "-p",
        "/",
        "evently-secret-test",
        ".*",
        ".*",
        ".*",
    ]);

    // Connected, at the most verbose level, publishing.
    let url = format!("amqp://evently-secret-test:{password}@127.0.0.1:5672/%2f");
    let mut tour = Tour::start(&[("EVENTLY_AMQP_URL", &url), ("RUST_LOG", "trace")]);
    tour.wait_for("connected to the broker");
    let order = reqwest::Client::new()
        .post(format!("{}/api/orders", tour.base))
        .json(&serde_json::json!({"item": "tea", "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(order.status(), 202);
    let (status, log) = tour.stop();
    assert!(status.success());
    assert!(
        log.contains("evently-secret-test:***@"),
        "the redacted URL is logged"
    );
    assert!(
        !log.contains(&password),
        "the password leaked into the logs"
    );

    // Refused, retrying.
    let wrong = format!("{password}-wrong");
    let url = format!("amqp://evently-secret-test:{wrong}@127.0.0.1:5672/%2f");
    let mut tour = Tour::start(&[("EVENTLY_AMQP_URL", &url), ("RUST_LOG", "trace")]);
    tour.wait_for("cannot connect to the broker");
    let (_, log) = tour.stop();
    assert!(!log.contains(&wrong), "the password leaked into the logs");

    // Invalid, refused at startup.
    let url = format!("amqp://evently-secret-test:{password}@127.0.0.1:notaport/%2f");
    let output = Command::new(tour_binary())
        .env("EVENTLY_AMQP_URL", &url)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let printed = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    assert!(printed.contains("EVENTLY_AMQP_URL"), "{printed}");
    assert!(
        !printed.contains(&password),
        "the password leaked: {printed}"
    );
}
