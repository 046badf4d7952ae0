//! Nothing is lost when RabbitMQ drops every connection, several times, and
//! restarts: 10,000 messages through a consume-and-produce pipeline while
//! `rabbitmqctl` injects the faults. Duplicates are allowed (delivery is at
//! least once) and reported. And a broker that goes silent is noticed by
//! heartbeats and left for a new connection.

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use evently::amqp::{BrokerClient, ProduceError};
use evently::prelude::*;
use evently::{Config, Running};
use serde::{Deserialize, Serialize};

evently! {
    amqp consume "f.in" + produce "f.out" => relay;
    amqp subscribe "f.news" fanout + produce "f.news.out" => relay;
}

#[derive(Serialize, Deserialize)]
struct Job {
    id: String,
}

async fn relay(job: Job, out: Producer) -> Result<(), ProduceError> {
    out.send(&job).await
}

const MESSAGES: usize = 10_000;

fn rabbitmqctl(args: &[&str]) -> bool {
    match Command::new("rabbitmqctl").args(args).output() {
        Ok(output) => output.status.success(),
        Err(error) => panic!("rabbitmqctl cannot run ({error}): `bash .ci/test` installs RabbitMQ"),
    }
}

/// Starts the broker app again when the test ends, however it ends.
struct RestartGuard;

impl Drop for RestartGuard {
    fn drop(&mut self) {
        rabbitmqctl(&["start_app"]);
        rabbitmqctl(&["await_startup"]);
    }
}

/// The fault tests share the broker: one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn rabbit_url() -> String {
    std::env::var("EVENTLY_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

async fn start() -> (Running, BrokerClient) {
    start_at(&rabbit_url()).await
}

async fn start_at(url: &str) -> (Running, BrokerClient) {
    let config = Config::default()
        .http_addr(([127, 0, 0, 1], 0).into())
        .amqp_url(url)
        .prefetch(100)
        .broker_timeout(Duration::from_secs(3));
    let running = App::with_config(config).unwrap().start().await.unwrap();
    for _ in 0..300 {
        if running.is_ready() {
            let client = running.broker().unwrap();
            return (running, client);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("RabbitMQ is not reachable at {url}: `bash .ci/test` installs and starts it");
}

/// Publishes until the broker confirms, riding out the faults.
async fn publish_confirmed(client: &BrokerClient, id: String) -> u32 {
    let payload = serde_json::to_vec(&Job { id }).unwrap();
    let mut attempts = 1;
    while client
        .publish_bytes("", "f.in", payload.clone().into())
        .await
        .is_err()
    {
        attempts += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    attempts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_when_the_broker_fails() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (running, client) = start().await;
    let _guard = RestartGuard;
    let tag = format!(
        "faults-{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );

    // Publish from eight tasks at once.
    let mut publishers = Vec::new();
    for task in 0..8 {
        let client = client.clone();
        let tag = tag.clone();
        publishers.push(tokio::spawn(async move {
            let mut retried = 0;
            for n in (task..MESSAGES).step_by(8) {
                retried += publish_confirmed(&client, format!("{tag}-{n}")).await - 1;
            }
            retried
        }));
    }

    // Meanwhile: drop every connection three times, then restart the broker.
    let faults = tokio::task::spawn_blocking(|| {
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(1500));
            assert!(rabbitmqctl(&[
                "close_all_connections",
                "evently fault test"
            ]));
        }
        std::thread::sleep(Duration::from_millis(1500));
        assert!(rabbitmqctl(&["stop_app"]));
        std::thread::sleep(Duration::from_secs(3));
        assert!(rabbitmqctl(&["start_app"]));
        assert!(rabbitmqctl(&["await_startup"]));
    });

    // Read the pipeline's output until every id arrived.
    let mut seen: HashMap<String, u32> = HashMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    while seen.len() < MESSAGES && tokio::time::Instant::now() < deadline {
        for message in client.take("f.out", 1000, Duration::from_secs(2)).await {
            let id = message.json()["id"].as_str().unwrap_or_default().to_owned();
            if id.starts_with(&tag) {
                *seen.entry(id).or_default() += 1;
            }
        }
    }
    faults.await.expect("the faults were injected");
    let mut retried = 0;
    for publisher in publishers {
        retried += publisher.await.unwrap();
    }

    let lost = MESSAGES - seen.len();
    let duplicates: u32 = seen.values().map(|n| n - 1).sum();
    println!(
        "{MESSAGES} messages: {lost} lost, {duplicates} duplicates, \
         {retried} publishes retried during the faults"
    );
    assert_eq!(lost, 0, "messages were lost");
    running.shutdown().await;
}

/// A subscription's queue goes with the connection; once the connection is
/// back, a new queue is bound and messages published to the exchange reach
/// the handler again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_is_renewed_after_the_connection_drops() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (running, client) = start().await;
    let tag = format!(
        "news-{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );

    // Publishes until the exchange routes it: meanwhile the subscription
    // may have no queue bound, and the publish is refused as unroutable.
    let broadcast = async |id: String| {
        let payload = serde_json::to_vec(&Job { id }).unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            match client
                .publish_bytes("f.news", "", payload.clone().into())
                .await
            {
                Ok(_) => return,
                Err(error) => assert!(
                    tokio::time::Instant::now() < deadline,
                    "the subscription did not come back: {error}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let arrived = async |id: &str| {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::time::Instant::now() < deadline {
            for message in client.take("f.news.out", 100, Duration::from_secs(1)).await {
                if message.json()["id"] == id {
                    return true;
                }
            }
        }
        false
    };

    broadcast(format!("{tag}-before")).await;
    assert!(arrived(&format!("{tag}-before")).await);

    assert!(rabbitmqctl(&[
        "close_all_connections",
        "evently fault test"
    ]));
    broadcast(format!("{tag}-after")).await;
    assert!(
        arrived(&format!("{tag}-after")).await,
        "a message published after the reconnect was not handled"
    );
    running.shutdown().await;
}

/// A TCP proxy to the broker that can go silent: it keeps its connections
/// open but stops passing bytes, as a peer behind a dead network would.
struct SilentProxy {
    port: u16,
    silent: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl SilentProxy {
    async fn start(broker: std::net::SocketAddr) -> SilentProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let silent = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = silent.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(broker).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pipe(client_read, server_write, flag.clone()));
                tokio::spawn(pipe(server_read, client_write, flag.clone()));
            }
        });
        SilentProxy { port, silent }
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    silent: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = vec![0; 16 * 1024];
    while let Ok(n) = from.read(&mut buffer).await {
        // Once silent, this connection never speaks again.
        if n == 0 || silent.load(std::sync::atomic::Ordering::SeqCst) {
            break;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
    if silent.load(std::sync::atomic::Ordering::SeqCst) {
        std::future::pending::<()>().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_broker_is_noticed_by_heartbeats() {
    use std::sync::atomic::Ordering;

    let _serial = ONE_AT_A_TIME.lock().await;
    let proxy = SilentProxy::start(([127, 0, 0, 1], 5672).into()).await;
    let url = format!(
        "amqp://guest:guest@127.0.0.1:{}/%2f?heartbeat=1",
        proxy.port
    );
    let (running, client) = start_at(&url).await;
    let tag = format!("silent-{}", std::process::id());

    // The connection goes silent: heartbeats stop arriving, the service
    // reports not-ready within seconds instead of hanging.
    proxy.silent.store(true, Ordering::SeqCst);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while running.is_ready() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the silent broker went unnoticed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The network heals; the service reconnects and works again.
    proxy.silent.store(false, Ordering::SeqCst);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !running.is_ready() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the service did not reconnect"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    publish_confirmed(&client, format!("{tag}-after")).await;
    let mut found = false;
    for _ in 0..10 {
        let out = client.take("f.out", 100, Duration::from_secs(2)).await;
        if out
            .iter()
            .any(|m| m.json()["id"] == format!("{tag}-after").as_str())
        {
            found = true;
            break;
        }
    }
    assert!(
        found,
        "the message published after reconnecting was not relayed"
    );
    running.shutdown().await;
}
