//! WebSocket benchmark: evently against a raw tokio-tungstenite server doing
//! the same echo.
//!
//! Two measurements, each on both servers:
//!
//! - **Echo throughput.** Many connections each send 64-byte text messages
//!   and wait for them to come back, keeping a small fixed window of
//!   messages in flight (one by default); every echo is checked against what
//!   was sent, in order. The table shows messages per second, the server's
//!   CPU time per message, and evently's ratio to the raw server.
//! - **Idle connections.** Ten thousand WebSockets are opened and left idle;
//!   the server's resident memory (`VmRSS`) is read before and after, and
//!   the difference is shown per connection.
//!
//! evently serves `ws "/echo"` with a handler that sends back each message it
//! receives. The raw server is `tokio_tungstenite::accept_async` on a plain
//! `TcpListener` with `TCP_NODELAY` and default settings, echoing text and
//! binary messages, on a multi-thread tokio runtime with as many workers as
//! evently's, so the difference is evently's own overhead. That includes
//! what evently does and the raw server does not: the HTTP upgrade through
//! hyper (with HTTP/2 detection) and the reads and writes through its
//! upgraded connection, a copy of each text message into a `String`, and a
//! look at the shutdown signal on every `recv`. One difference is a setting
//! rather than overhead: evently reads into an 8 KiB buffer where
//! tungstenite defaults to 128 KiB, which it zero-fills before every read
//! and which stays resident on every connection; both tables show it.
//!
//! Each server runs in a child process (this binary, started again with
//! `EVENTLY_BENCH_SERVER` set), so that its CPU time (utime + stime from
//! `/proc/<pid>/stat`) and memory are its own. The load comes from this
//! process and is the same for both. Echo rounds alternate between the
//! servers so that noise on the machine hits both, and the table shows the
//! median of each server's rounds. Each idle measurement gets a fresh server.
//! Linux only: it reads `/proc`.
//!
//! The idle measurement needs a file descriptor per connection on both
//! sides. When the soft open-file limit is too low, the benchmark starts
//! itself again through `sh -c 'ulimit -S -n N && exec …'`, raising the soft
//! limit up to the hard one; the servers inherit it. If even the hard limit
//! is too low, it opens as many connections as the limit allows and says so.
//!
//! ```text
//! cargo bench -p evently --bench ws
//! EVENTLY_BENCH_SECS=10 EVENTLY_BENCH_ROUNDS=5 cargo bench -p evently --bench ws
//! ```
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `EVENTLY_BENCH_CONNECTIONS` | `64` | echoing connections |
//! | `EVENTLY_BENCH_WINDOW` | `1` | messages in flight per echoing connection |
//! | `EVENTLY_BENCH_SECS` | `3` | measured seconds per echo round |
//! | `EVENTLY_BENCH_WARMUP_SECS` | `1` | unmeasured seconds before each round |
//! | `EVENTLY_BENCH_ROUNDS` | `3` | echo rounds per server |
//! | `EVENTLY_BENCH_IDLE` | `10000` | idle connections per server |
//! | `EVENTLY_BENCH_THREADS` | the number of cores | worker threads of each server |
//!
//! Run without `--bench` (as `cargo test --benches` does), it makes one short
//! echo round and opens a hundred idle connections per server, only to check
//! that both work.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use evently::prelude::*;
use futures_util::{SinkExt, StreamExt, TryStreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as Wire;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

mod common;

use common::{Clients, Round, Server, Settings, Summary, Tally};

/// The name of the server evently is compared with.
const RIVAL: &str = "raw";

/// Set when this process was started again with a raised open-file limit,
/// to that limit.
const NOFILE_VAR: &str = "EVENTLY_BENCH_NOFILE";

/// The size of every echoed message.
const MESSAGE_LEN: usize = 64;

/// Descriptors kept aside for everything but the idle connections.
const SPARE_FILES: u64 = 512;

/// Handshakes in progress at once while opening idle connections.
const OPENING: usize = 128;

// The evently server.

evently! {
    ws "/echo" => echo;
}

async fn echo(mut socket: WebSocket) {
    while let Some(message) = socket.recv().await {
        if socket.send(message).await.is_err() {
            break;
        }
    }
}

async fn serve_evently() {
    let app = App::with_config(common::evently_config()).expect("the bench service is valid");
    let running = app.start().await.expect("the bench service binds");
    common::keep_serving(running).await;
}

// The raw tokio-tungstenite server.

async fn serve_raw() {
    common::serve_connections(|stream| async move {
        let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
            return;
        };
        // Pings are answered and the close is returned by tungstenite; the
        // stream ends after the close.
        while let Some(Ok(message)) = socket.next().await {
            if (message.is_text() || message.is_binary()) && socket.send(message).await.is_err() {
                break;
            }
        }
    })
    .await;
}

// The client side.

type Client = WebSocketStream<TcpStream>;

/// Opens a WebSocket to the server's `/echo`.
async fn connect(addr: SocketAddr) -> Result<Client, String> {
    let stream = common::connect(addr).await?;
    // A small read buffer keeps ten thousand clients cheap; it is the same
    // for both servers.
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let (socket, _) = tokio_tungstenite::client_async_with_config(
        format!("ws://{addr}/echo"),
        stream,
        Some(config),
    )
    .await
    .map_err(|e| format!("handshake failed: {e}"))?;
    Ok(socket)
}

/// The `seq`th message of connection `id`: both numbers, padded to
/// [`MESSAGE_LEN`] bytes, so that an echo can only match its own message.
fn payload(id: usize, seq: u64) -> String {
    let mut text = String::with_capacity(MESSAGE_LEN);
    let _ = write!(text, "{id:05}:{seq:016}:");
    while text.len() < MESSAGE_LEN {
        text.push('x');
    }
    text
}

/// Waits for the next message and checks that it is `expected`.
async fn expect_echo(socket: &mut Client, expected: &str) -> Result<(), String> {
    match socket.next().await {
        Some(Ok(Wire::Text(text))) if text.as_str() == expected => Ok(()),
        Some(Ok(other)) => Err(format!("expected the echo of {expected:?}, got {other:?}")),
        Some(Err(e)) => Err(format!("the socket failed: {e}")),
        None => Err("the server closed the socket".to_owned()),
    }
}

/// Closes the socket and waits for the server's close, ignoring failures:
/// the measurement is over.
async fn close(mut socket: Client) {
    let _ = socket.close(None).await;
    while let Some(Ok(_)) = socket.next().await {}
}

// Echo throughput.

/// Loads `server` with echoes for one round.
async fn round(server: &Server, load: &Load, settings: &Settings) -> Result<Round, String> {
    let mut clients = Clients::new();
    for id in 0..load.connections {
        clients.spawn(|tally| drive(server.addr, id, load.window, tally));
    }
    let nothing = "no echo came back in the round";
    clients.measure(server, settings, nothing).await
}

/// One connection keeping `window` messages in flight until the round stops,
/// then collecting the echoes still due and closing.
async fn drive(addr: SocketAddr, id: usize, window: usize, tally: Tally) -> Result<(), String> {
    let mut socket = connect(addr).await?;
    let mut in_flight = VecDeque::with_capacity(window);
    let mut seq = 0;
    loop {
        // Top the window up, then send it in one go.
        let mut fed = false;
        while in_flight.len() < window && !tally.is_stopped() {
            let text = payload(id, seq);
            seq += 1;
            socket
                .feed(Wire::text(text.clone()))
                .await
                .map_err(|e| format!("send failed: {e}"))?;
            in_flight.push_back(text);
            fed = true;
        }
        if fed {
            socket
                .flush()
                .await
                .map_err(|e| format!("send failed: {e}"))?;
        }

        // Echoes come back in the order they were sent.
        let Some(expected) = in_flight.pop_front() else {
            break;
        };
        expect_echo(&mut socket, &expected).await?;
        tally.add_one();
    }
    close(socket).await;
    Ok(())
}

// Idle connections.

/// A server's memory before and after the idle connections opened.
struct Idle {
    connections: usize,
    before: u64,
    after: u64,
}

impl Idle {
    fn kib_per_connection(&self) -> f64 {
        self.after.saturating_sub(self.before) as f64 / 1024.0 / self.connections as f64
    }
}

/// Opens `count` idle connections to a fresh `name` server and reads its
/// memory before and after.
async fn idle(name: &'static str, count: usize) -> Result<Idle, String> {
    let server = Server::spawn(name);

    // One echo first, so that what the server sets up once is not charged
    // to the connections.
    let mut socket = connect(server.addr).await?;
    let text = payload(0, 0);
    socket
        .send(Wire::text(text.clone()))
        .await
        .map_err(|e| format!("send failed: {e}"))?;
    expect_echo(&mut socket, &text).await?;
    close(socket).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = server.rss();

    // Open them all, a bounded number of handshakes at a time.
    let opening = futures_util::stream::iter(0..count)
        .map(|_| connect(server.addr))
        .buffer_unordered(OPENING)
        .try_collect::<Vec<_>>();
    let mut sockets = tokio::time::timeout(Duration::from_secs(120), opening)
        .await
        .map_err(|_| format!("{count} connections did not open within two minutes"))??;

    // Give the server time to run every session up to its first read.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = server.rss();

    // Check that a sample of them still echoes, then close them all.
    let step = (count / 10).max(1);
    for (seq, socket) in sockets.iter_mut().step_by(step).enumerate() {
        let text = payload(1, seq as u64);
        socket
            .send(Wire::text(text.clone()))
            .await
            .map_err(|e| format!("send failed: {e}"))?;
        expect_echo(socket, &text).await?;
    }
    drop(sockets);
    drop(server);
    Ok(Idle {
        connections: count,
        before,
        after,
    })
}

// The open-file limit.

/// The soft and hard limits on open files (`None` is unlimited).
fn open_file_limits() -> Option<(Option<u64>, Option<u64>)> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))?;
    let mut values = line.split_whitespace().map(|v| v.parse::<u64>().ok());
    Some((values.next()?, values.next()?))
}

/// Raises the soft open-file limit to `needed` if it is lower, by starting
/// this binary again under `sh -c 'ulimit …'`; returns only when no restart
/// is needed or possible, with the limit there is.
fn ensure_open_files(needed: u64) -> Option<u64> {
    let (soft, hard) = open_file_limits()?;
    if soft.is_none_or(|soft| soft >= needed) || std::env::var_os(NOFILE_VAR).is_some() {
        return soft;
    }
    let target = hard.map_or(needed, |hard| hard.min(needed));
    if soft.is_some_and(|soft| soft >= target) {
        return soft;
    }
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().expect("the bench binary's path");
    let error = Command::new("sh")
        .arg("-c")
        .arg(format!(r#"ulimit -S -n "${NOFILE_VAR}" && exec "$0" "$@""#))
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .env(NOFILE_VAR, target.to_string())
        .exec();
    eprintln!("cannot raise the open-file limit through sh: {error}");
    soft
}

// The comparison.

/// The shape of the load; [`Settings`] has the rest.
struct Load {
    connections: usize,
    window: usize,
    idle: usize,
}

impl Load {
    fn read(bench: bool) -> Load {
        Load {
            connections: common::setting(bench, "EVENTLY_BENCH_CONNECTIONS", 64.0, 4.0) as usize,
            window: common::setting(bench, "EVENTLY_BENCH_WINDOW", 1.0, 1.0) as usize,
            idle: common::setting(bench, "EVENTLY_BENCH_IDLE", 10_000.0, 100.0) as usize,
        }
    }
}

async fn compare(settings: Settings, load: Load) -> Result<(), String> {
    println!(
        "evently vs raw tokio-tungstenite: {} connections echoing {MESSAGE_LEN}-byte text \
         messages, {} in flight each, {settings}",
        load.connections, load.window,
    );

    // Echo rounds, alternating between the two servers.
    let servers = [Server::spawn("evently"), Server::spawn(RIVAL)];
    let [evently, raw] = common::alternate(&servers, &settings, Some("echo"), async |server| {
        round(server, &load, &settings).await
    })
    .await?;
    drop(servers);
    print_echo(&evently, &raw);

    // Idle connections, a fresh server each.
    println!();
    println!("{} idle connections per server", load.idle);
    let mut idle_table = Vec::new();
    for name in ["evently", RIVAL] {
        let measured = idle(name, load.idle)
            .await
            .map_err(|e| format!("{name} server, idle: {e}"))?;
        idle_table.push((name, measured));
    }
    print_idle(&idle_table);
    Ok(())
}

fn print_echo(evently: &Summary, raw: &Summary) {
    println!();
    println!(
        "{:<12} {:>10} {:>11}   msg/s per round",
        "server", "msg/s", "CPU µs/msg"
    );
    for (name, summary) in [("evently", evently), ("raw", raw)] {
        println!(
            "{:<12} {:>10.0} {:>11.2}   {}",
            name,
            summary.per_second,
            summary.cpu_micros,
            summary.per_round(),
        );
    }
    println!(
        "{:<12} {:>10.3} {:>11.3}   {}",
        "evently/raw",
        evently.per_second / raw.per_second,
        evently.cpu_micros / raw.cpu_micros,
        evently.ratios(raw),
    );
}

fn print_idle(table: &[(&str, Idle)]) {
    println!();
    println!(
        "{:<12} {:>11} {:>11} {:>13}",
        "server", "before MiB", "after MiB", "KiB/conn"
    );
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    for (name, idle) in table {
        println!(
            "{:<12} {:>11.2} {:>11.2} {:>13.2}",
            name,
            mib(idle.before),
            mib(idle.after),
            idle.kib_per_connection(),
        );
    }
}

fn main() {
    common::serve_if_child(RIVAL, serve_evently, serve_raw);
    let bench = common::is_bench();
    let settings = Settings::read(bench);
    let mut load = Load::read(bench);

    // Room for the idle connections on this side, inherited by the servers.
    let needed = load.idle as u64 + SPARE_FILES;
    if let Some(limit) = ensure_open_files(needed)
        && limit < needed
    {
        let fit = limit.saturating_sub(SPARE_FILES).max(1) as usize;
        println!(
            "the open-file limit is {limit}: opening {fit} idle connections instead of {}",
            load.idle
        );
        load.idle = fit;
    }

    common::run(compare(settings, load));
}
