//! Handlers that `yield`: chunked bodies, server-sent events and WebSocket
//! streams, over real sockets.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use evently::http::Event;
use evently::prelude::*;
use evently::{Config, Running, Stream};
use futures_util::StreamExt;
use tokio::sync::Notify;

evently! {
    http GET "/gated" => gated;
    http GET "/events" => events;
    http GET "/noted" + amqp produce "s.notes" => noted;
    http GET "/large" => large;
    ws "/count" => count;
}

/// Lets the test decide when the second chunk may be produced.
static GATE: LazyLock<Notify> = LazyLock::new(Notify::new);

async fn gated() -> Chunks<impl Stream<Item = String>> {
    Chunks::new(stream! {
        yield "first\n".to_owned();
        GATE.notified().await;
        yield "last\n".to_owned();
    })
}

async fn events() -> Sse<impl Stream<Item = Event>> {
    Sse::new(stream! {
        yield Event::data("hello");
        yield Event::data("two\nlines").name("multi").id("7");
        yield Event::json(&serde_json::json!({"n": 3})).unwrap();
    })
}

async fn noted(notes: Producer) -> Chunks<impl Stream<Item = String>> {
    Chunks::new(stream! {
        for n in 0..3 {
            yield format!("{n}\n");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        notes.send(&"read to the end").await.unwrap();
    })
}

/// Chunks `large` has produced so far.
static PRODUCED: AtomicUsize = AtomicUsize::new(0);

const LARGE_CHUNKS: usize = 2048;
const LARGE_CHUNK: usize = 64 * 1024;

/// 128 MiB in chunks of 64 KiB, counting each as it is produced.
async fn large() -> Chunks<impl Stream<Item = String>> {
    Chunks::new(stream! {
        for _ in 0..LARGE_CHUNKS {
            PRODUCED.fetch_add(1, Ordering::SeqCst);
            yield "x".repeat(LARGE_CHUNK);
        }
    })
}

async fn count(mut socket: WebSocket) -> Result<(), evently::ws::WsError> {
    socket
        .send_all(stream! {
            for n in 1..=5 {
                yield format!("{n}");
            }
        })
        .await
}

async fn start() -> (Running, String) {
    let config = Config::default().http_addr(([127, 0, 0, 1], 0).into());
    let running = App::with_config(config).unwrap().start().await.unwrap();
    let base = format!("http://{}", running.local_addr());
    (running, base)
}

#[tokio::test]
async fn chunks_arrive_as_they_are_produced() {
    let (running, base) = start().await;
    let response = reqwest::get(format!("{base}/gated")).await.unwrap();
    assert_eq!(response.headers()["transfer-encoding"], "chunked");
    let mut body = response.bytes_stream();

    // The first chunk arrives while the last one cannot be produced yet.
    let first = tokio::time::timeout(Duration::from_secs(5), body.next()).await;
    assert_eq!(first.unwrap().unwrap().unwrap(), "first\n");
    GATE.notify_one();
    let last = tokio::time::timeout(Duration::from_secs(5), body.next()).await;
    assert_eq!(last.unwrap().unwrap().unwrap(), "last\n");
    assert!(body.next().await.is_none());
    running.shutdown().await;
}

#[tokio::test]
async fn server_sent_events_are_framed() {
    let (running, base) = start().await;
    let response = reqwest::get(format!("{base}/events")).await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let text = response.text().await.unwrap();
    assert_eq!(
        text,
        "data: hello\n\nevent: multi\nid: 7\ndata: two\ndata: lines\n\ndata: {\"n\":3}\n\n"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn once_finished_messages_go_out_after_the_stream() {
    let (running, base) = start().await;
    let broker = running.broker().unwrap();
    let response = reqwest::get(format!("{base}/noted")).await.unwrap();
    let mut body = response.bytes_stream();
    assert_eq!(body.next().await.unwrap().unwrap(), "0\n");

    // Mid-stream, nothing was published.
    let early = broker.take("s.notes", 1, Duration::from_millis(20)).await;
    assert!(early.is_empty());

    while body.next().await.is_some() {}
    let notes = broker.take("s.notes", 1, Duration::from_secs(5)).await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].json(), "read to the end");
    running.shutdown().await;
}

#[tokio::test]
async fn a_websocket_stream_sends_one_message_per_item() {
    let (running, base) = start().await;
    let url = format!("{}/count", base.replace("http", "ws"));
    let (client, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let texts: Vec<String> = client
        .filter_map(|m| async move { m.ok().filter(|m| m.is_text()).map(|m| m.to_string()) })
        .collect()
        .await;
    assert_eq!(texts, ["1", "2", "3", "4", "5"]);
    running.shutdown().await;
}

/// A client that does not read holds the stream after what the socket's
/// buffers take: the handler is not asked for more, and nothing piles up.
/// Once the client reads, the rest arrives whole.
#[tokio::test]
async fn a_slow_client_slows_the_stream() {
    let (running, base) = start().await;
    let response = reqwest::get(format!("{base}/large")).await.unwrap();
    assert_eq!(response.status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let produced = PRODUCED.load(Ordering::SeqCst);
    eprintln!("{produced} of {LARGE_CHUNKS} chunks produced while the client read nothing");
    assert!(
        produced < LARGE_CHUNKS / 4,
        "{produced} chunks were produced for a client that read nothing"
    );

    let mut body = response.bytes_stream();
    let mut read = 0;
    while let Some(chunk) = body.next().await {
        read += chunk.unwrap().len();
    }
    assert_eq!(read, LARGE_CHUNKS * LARGE_CHUNK);
    running.shutdown().await;
}
