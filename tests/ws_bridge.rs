//! WebSockets bridged with AMQP, against a real RabbitMQ and against
//! `memory://`: each session gets its own consumer, a subscription reaches
//! every session of every instance, a message is acked only once written to
//! the socket (so a client that leaves mid-stream loses nothing), and a slow
//! client leaves the messages it has not taken in the broker.

use std::collections::HashSet;
use std::time::Duration;

use evently::amqp::BrokerClient;
use evently::prelude::*;
use evently::{Config, Running};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as Wire;

evently! {
    ws "/chat" + amqp subscribe "b.chat" fanout + produce "b.received" instantly => chat;
    ws "/feed" + amqp consume "b.feed" => feed;
}

async fn chat(
    mut socket: WebSocket,
    mut chat: Subscription,
    received: Producer,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    loop {
        tokio::select! {
            message = socket.recv() => match message {
                Some(evently::ws::Message::Text(text)) => {
                    received.send(&serde_json::json!({ "message": text })).await?;
                }
                Some(_) => {}
                None => return Ok(()),
            },
            delivery = chat.next() => {
                let Some(delivery) = delivery else { return Ok(()) };
                socket.send(delivery.text().unwrap_or_default().to_owned()).await?;
                delivery.ack().await?;
            }
        }
    }
}

/// Pushes every message of the queue to the client, acking each once it
/// was written; returns when the client leaves.
async fn feed(
    mut socket: WebSocket,
    mut feed: Subscription,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    loop {
        tokio::select! {
            message = socket.recv() => {
                if message.is_none() {
                    return Ok(());
                }
            }
            delivery = feed.next() => {
                let Some(delivery) = delivery else { return Ok(()) };
                socket.send(delivery.text().unwrap_or_default().to_owned()).await?;
                delivery.ack().await?;
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Broker {
    Memory,
    Rabbit,
}

static RABBIT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn config(broker: Broker) -> Config {
    let config = Config::default()
        .http_addr(([127, 0, 0, 1], 0).into())
        .prefetch(1);
    match broker {
        Broker::Memory => config,
        Broker::Rabbit => config.amqp_url(
            &std::env::var("EVENTLY_TEST_AMQP_URL")
                .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned()),
        ),
    }
}

async fn start(config: Config) -> (Running, BrokerClient, String) {
    let running = App::with_config(config).unwrap().start().await.unwrap();
    for _ in 0..300 {
        if running.is_ready() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        running.is_ready(),
        "RabbitMQ is not reachable: `bash .ci/test` starts it"
    );
    let client = running.broker().unwrap();
    let base = format!("ws://{}", running.local_addr());
    (running, client, base)
}

fn tag(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{test}-{nanos:x}")
}

async fn next_text(
    client: &mut (impl StreamExt<Item = Result<Wire, tokio_tungstenite::tungstenite::Error>> + Unpin),
) -> Option<String> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), client.next()).await {
            Ok(Some(Ok(Wire::Text(text)))) => return Some(text.to_string()),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

async fn the_bridge_carries_both_ways(broker: Broker) {
    let (running, broker_client, base) = start(config(broker)).await;
    let tag = tag("bridge");
    let (mut client, _) = tokio_tungstenite::connect_async(format!("{base}/chat"))
        .await
        .unwrap();
    // The session's subscription is bound before the 101 is sent.
    broker_client
        .publish_bytes("b.chat", "", format!("{tag}-to-client").into_bytes().into())
        .await
        .unwrap();
    assert_eq!(
        next_text(&mut client).await.as_deref(),
        Some(format!("{tag}-to-client").as_str())
    );

    client
        .send(Wire::text(format!("{tag}-from-client")))
        .await
        .unwrap();
    let mut found = false;
    for _ in 0..5 {
        let received = broker_client
            .take("b.received", 100, Duration::from_secs(2))
            .await;
        if received
            .iter()
            .any(|m| m.json()["message"] == format!("{tag}-from-client").as_str())
        {
            found = true;
            break;
        }
    }
    assert!(found, "the client's text was not published");
    client.close(None).await.unwrap();
    running.shutdown().await;
}

macro_rules! on_both_brokers {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Broker::Memory).await;
                }
            )*
        }

        mod rabbitmq {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let _one_at_a_time = super::RABBIT.lock().await;
                    super::$name(super::Broker::Rabbit).await;
                }
            )*
        }
    };
}

/// Messages of this size fill the socket's buffers after a few dozen, so a
/// client that does not read holds the session's sends.
const LARGE: usize = 64 * 1024;

/// A message of `LARGE` bytes that starts with `{tag}-{index}-`.
fn large(tag: &str, index: usize) -> bytes::Bytes {
    let mut text = format!("{tag}-{index:05}-");
    text.extend(std::iter::repeat_n('x', LARGE - text.len()));
    text.into()
}

/// The index of a message made by `large` with this tag.
fn index_of(tag: &str, text: &str) -> Option<usize> {
    let rest = text.strip_prefix(tag)?.strip_prefix('-')?;
    rest.get(..5)?.parse().ok()
}

async fn publish_large(client: &BrokerClient, tag: &str, count: usize) {
    for index in 0..count {
        client
            .publish_bytes("", "b.feed", large(tag, index))
            .await
            .unwrap();
    }
}

async fn nothing_is_lost_when_the_client_leaves_mid_stream(broker: Broker) {
    const COUNT: usize = 400;
    let (running, broker_client, base) = start(config(broker)).await;
    let tag = tag("leave");
    let (mut client, _) = tokio_tungstenite::connect_async(format!("{base}/feed"))
        .await
        .unwrap();
    publish_large(&broker_client, &tag, COUNT).await;

    // Read a few, then leave: the close goes out, and whatever the service
    // wrote before it saw the close is still read, as a client does.
    let mut received = Vec::new();
    while received.len() < 20 {
        let text = next_text(&mut client).await.expect("the feed streams");
        received.extend(index_of(&tag, &text));
    }
    client.close(None).await.unwrap();
    while let Ok(Some(Ok(frame))) =
        tokio::time::timeout(Duration::from_secs(10), client.next()).await
    {
        if let Wire::Text(text) = frame {
            received.extend(index_of(&tag, &text));
        }
    }
    assert!(
        received.len() < COUNT,
        "the client left after the stream ended; nothing was tested"
    );

    // What the client did not get went back to the queue.
    let mut left = Vec::new();
    loop {
        let taken = broker_client
            .take("b.feed", COUNT, Duration::from_secs(2))
            .await;
        if taken.is_empty() {
            break;
        }
        left.extend(
            taken
                .iter()
                .filter_map(|m| index_of(&tag, std::str::from_utf8(&m.payload).ok()?)),
        );
    }
    let all: HashSet<usize> = received.iter().chain(&left).copied().collect();
    let lost: Vec<usize> = (0..COUNT).filter(|i| !all.contains(i)).collect();
    let duplicates = received.len() + left.len() - all.len();
    eprintln!(
        "{} read by the client, {} back in the queue, {duplicates} duplicates, {} lost",
        received.len(),
        left.len(),
        lost.len()
    );
    assert!(lost.is_empty(), "lost messages: {lost:?}");
    running.shutdown().await;
}

on_both_brokers!(
    the_bridge_carries_both_ways,
    nothing_is_lost_when_the_client_leaves_mid_stream,
);

/// The resident memory of this process, in bytes.
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: usize = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kib * 1024
}

/// Messages ready in a RabbitMQ queue, as `rabbitmqctl` reports them.
fn ready_in(queue: &str) -> usize {
    let output = std::process::Command::new("rabbitmqctl")
        .args(["-q", "list_queues", "name", "messages_ready"])
        .output()
        .expect("rabbitmqctl runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| {
            let (name, ready) = line.split_once(char::is_whitespace)?;
            (name == queue).then(|| ready.trim().parse().ok())?
        })
        .unwrap_or(0)
}

/// A client that reads nothing while 64 MiB are published for it: the
/// service holds its sends instead of buffering, the messages wait in the
/// broker, and the service's memory stays flat. Then the client reads
/// everything, and nothing is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_holds_memory_flat() {
    const COUNT: usize = 1024;
    let _one_at_a_time = RABBIT.lock().await;
    let (running, broker_client, base) = start(config(Broker::Rabbit)).await;
    // Leftovers of earlier runs would be counted as waiting messages.
    while !broker_client
        .take("b.feed", 1000, Duration::from_millis(500))
        .await
        .is_empty()
    {}
    let tag = tag("slow");
    let (mut client, _) = tokio_tungstenite::connect_async(format!("{base}/feed"))
        .await
        .unwrap();
    // Warm up the allocator with a first batch, then measure the rest.
    publish_large(&broker_client, &tag, 64).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss();
    for index in 64..COUNT {
        broker_client
            .publish_bytes("", "b.feed", large(&tag, index))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let grown = rss().saturating_sub(before);
    let waiting = ready_in("b.feed");
    eprintln!(
        "published {} MiB; the service grew by {} KiB; {waiting} messages wait in the broker",
        ((COUNT - 64) * LARGE) >> 20,
        grown >> 10
    );
    assert!(
        waiting >= COUNT - 400,
        "only {waiting} messages wait in the broker: the service took them while the client read nothing"
    );
    assert!(
        grown < 16 << 20,
        "the service grew by {} MiB while the client read nothing",
        grown >> 20
    );

    let mut seen = HashSet::new();
    while seen.len() < COUNT {
        let text = next_text(&mut client)
            .await
            .unwrap_or_else(|| panic!("the feed stopped after {} messages", seen.len()));
        seen.extend(index_of(&tag, &text));
    }
    client.close(None).await.unwrap();
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_reaches_clients_of_every_instance() {
    let _one_at_a_time = RABBIT.lock().await;
    let (one, broker_client, base_one) = start(config(Broker::Rabbit)).await;
    let (two, _, base_two) = start(config(Broker::Rabbit)).await;
    let tag = tag("fanout");
    let (mut a, _) = tokio_tungstenite::connect_async(format!("{base_one}/chat"))
        .await
        .unwrap();
    let (mut b, _) = tokio_tungstenite::connect_async(format!("{base_two}/chat"))
        .await
        .unwrap();

    broker_client
        .publish_bytes("b.chat", "", tag.clone().into_bytes().into())
        .await
        .unwrap();
    assert_eq!(next_text(&mut a).await.as_deref(), Some(tag.as_str()));
    assert_eq!(next_text(&mut b).await.as_deref(), Some(tag.as_str()));
    a.close(None).await.unwrap();
    b.close(None).await.unwrap();
    one.shutdown().await;
    two.shutdown().await;
}
