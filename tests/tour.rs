//! The `tour` example as a user runs it: a process, real sockets, SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The example binary cargo built beside this test.
fn tour_binary() -> PathBuf {
    let mut path = std::env::current_exe().expect("the test binary has a path");
    path.pop();
    if path.ends_with("deps") {
        path.pop();
    }
    path.join("examples").join("tour")
}

/// Starts the tour on a free port and returns it with its address, read
/// from the startup line.
fn start_tour() -> (Child, String) {
    let binary = tour_binary();
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build --examples`",
        binary.display()
    );
    let mut child = Command::new(binary)
        .env("EVENTLY_HTTP_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .spawn()
        .expect("the tour starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let line = lines.next().expect("a startup line").unwrap();
    let addr = line
        .split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in the startup line: {line}"))
        .to_owned();
    assert!(
        line.contains("1 http route, 3 rest routes, 2 amqp consumers, 3 producers"),
        "{line}"
    );
    // Keep draining the logs so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

#[tokio::test]
async fn the_tour_answers_and_stops_on_sigterm() {
    let (mut child, base) = start_tour();
    let client = reqwest::Client::new();

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

    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    assert!(status.unwrap().success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the tour did not stop within 10 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "the tour exited with {exit}");
}
