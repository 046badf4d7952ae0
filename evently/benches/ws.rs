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
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use evently::prelude::*;
use futures_util::{SinkExt, StreamExt, TryStreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as Wire;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Set in a child process to the server it runs: `evently` or `raw`.
const SERVER_VAR: &str = "EVENTLY_BENCH_SERVER";

/// Set when this process was started again with a raised open-file limit,
/// to that limit.
const NOFILE_VAR: &str = "EVENTLY_BENCH_NOFILE";

/// A child announces its port with this line on stdout.
const PORT_LINE: &str = "evently-bench port ";

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
    let config = evently::Config::default().http_addr(SocketAddr::from(([127, 0, 0, 1], 0)));
    let app = App::with_config(config).expect("the bench service is valid");
    let running = app.start().await.expect("the bench service binds");
    announce(running.local_addr());
    std::future::pending::<()>().await;
}

// The raw tokio-tungstenite server.

async fn serve_raw() {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("the raw server binds");
    announce(
        listener
            .local_addr()
            .expect("a bound listener has an address"),
    );
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            // Pings are answered and the close is returned by tungstenite;
            // the stream ends after the close.
            while let Some(Ok(message)) = socket.next().await {
                if (message.is_text() || message.is_binary()) && socket.send(message).await.is_err()
                {
                    break;
                }
            }
        });
    }
}

// The child process.

/// Runs one server until the parent closes our stdin (or kills us).
fn run_server(kind: &str) {
    let serve = match kind {
        "evently" => ServerKind::Evently,
        "raw" => ServerKind::Raw,
        other => panic!("{SERVER_VAR} must be `evently` or `raw`, found {other:?}"),
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
            ServerKind::Raw => serve_raw().await,
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
    Raw,
}

impl ServerKind {
    fn name(self) -> &'static str {
        match self {
            ServerKind::Evently => "evently",
            ServerKind::Raw => "raw",
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

    /// Resident set size now, in bytes.
    fn rss(&self) -> u64 {
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path).expect("/proc/<pid>/status reads");
        let kib = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().strip_suffix("kB"))
            .and_then(|value| value.trim().parse::<u64>().ok())
            .expect("VmRSS in /proc/<pid>/status");
        kib * 1024
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// The client side.

type Client = WebSocketStream<TcpStream>;

/// Opens a WebSocket to the server's `/echo`.
async fn connect(addr: SocketAddr) -> Result<Client, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("cannot set TCP_NODELAY: {e}"))?;
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

/// What one round measured.
struct Round {
    messages: u64,
    seconds: f64,
    cpu_seconds: f64,
}

impl Round {
    fn per_second(&self) -> f64 {
        self.messages as f64 / self.seconds
    }

    fn cpu_micros_per_message(&self) -> f64 {
        self.cpu_seconds * 1e6 / self.messages.max(1) as f64
    }
}

/// Loads `server` with echoes for one round.
async fn round(server: &Server, settings: &Settings) -> Result<Round, String> {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut clients = JoinSet::new();
    for id in 0..settings.connections {
        let (stop, done) = (Arc::clone(&stop), Arc::clone(&done));
        clients.spawn(drive(server.addr, id, settings.window, stop, done));
    }

    // Connect and warm up, unmeasured.
    tokio::time::sleep(settings.warmup).await;

    // Measure a window while every connection is busy.
    let (messages, ticks, started) = (
        done.load(Ordering::Relaxed),
        server.cpu_ticks(),
        Instant::now(),
    );
    tokio::time::sleep(settings.duration).await;
    let seconds = started.elapsed().as_secs_f64();
    let messages = done.load(Ordering::Relaxed) - messages;
    let ticks = server.cpu_ticks() - ticks;

    // Stop, and fail the round if any echo was wrong.
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
    if messages == 0 {
        return Err("no echo came back in the round".to_owned());
    }
    Ok(Round {
        messages,
        seconds,
        cpu_seconds: ticks as f64 / settings.clock_ticks as f64,
    })
}

/// One connection keeping `window` messages in flight until `stop`, then
/// collecting the echoes still due and closing.
async fn drive(
    addr: SocketAddr,
    id: usize,
    window: usize,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
) -> Result<(), String> {
    let mut socket = connect(addr).await?;
    let mut in_flight = VecDeque::with_capacity(window);
    let mut seq = 0;
    loop {
        // Top the window up, then send it in one go.
        let mut fed = false;
        while in_flight.len() < window && !stop.load(Ordering::Relaxed) {
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
        done.fetch_add(1, Ordering::Relaxed);
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

/// Opens `count` idle connections to a fresh `kind` server and reads its
/// memory before and after.
async fn idle(kind: ServerKind, count: usize) -> Result<Idle, String> {
    let server = Server::spawn(kind);

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

struct Settings {
    connections: usize,
    window: usize,
    duration: Duration,
    warmup: Duration,
    rounds: usize,
    idle: usize,
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
                window: 1,
                duration: Duration::from_millis(200),
                warmup: Duration::from_millis(50),
                rounds: 1,
                idle: 100,
                threads,
                clock_ticks,
            };
        }
        Settings {
            connections: number("EVENTLY_BENCH_CONNECTIONS", 64.0) as usize,
            window: number("EVENTLY_BENCH_WINDOW", 1.0) as usize,
            duration: Duration::from_secs_f64(number("EVENTLY_BENCH_SECS", 3.0)),
            warmup: Duration::from_secs_f64(number("EVENTLY_BENCH_WARMUP_SECS", 1.0)),
            rounds: number("EVENTLY_BENCH_ROUNDS", 3.0) as usize,
            idle: number("EVENTLY_BENCH_IDLE", 10_000.0) as usize,
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

/// One server's echo results.
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
            cpu_micros: median(rounds.iter().map(Round::cpu_micros_per_message).collect()),
        }
    }
}

async fn compare(settings: Settings) -> Result<(), String> {
    println!(
        "evently vs raw tokio-tungstenite: {} connections echoing {MESSAGE_LEN}-byte text \
         messages, {} in flight each, {} round(s) of {:.1} s per server after {:.1} s of \
         warm-up each, {} server worker threads",
        settings.connections,
        settings.window,
        settings.rounds,
        settings.duration.as_secs_f64(),
        settings.warmup.as_secs_f64(),
        settings.threads,
    );

    // Echo rounds, alternating between the two servers.
    let servers = [
        Server::spawn(ServerKind::Evently),
        Server::spawn(ServerKind::Raw),
    ];
    let mut rounds: [Vec<Round>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..settings.rounds {
        for (server, rounds) in servers.iter().zip(&mut rounds) {
            let measured = round(server, &settings)
                .await
                .map_err(|e| format!("{} server, echo: {e}", server.kind.name()))?;
            rounds.push(measured);
        }
    }
    drop(servers);
    let [evently, raw] = rounds;
    print_echo(&Summary::new(&evently), &Summary::new(&raw));

    // Idle connections, a fresh server each.
    println!();
    println!("{} idle connections per server", settings.idle);
    let mut idle_table = Vec::new();
    for kind in [ServerKind::Evently, ServerKind::Raw] {
        let measured = idle(kind, settings.idle)
            .await
            .map_err(|e| format!("{} server, idle: {e}", kind.name()))?;
        idle_table.push((kind, measured));
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
        let rounds: Vec<String> = summary.rounds.iter().map(|r| format!("{r:.0}")).collect();
        println!(
            "{:<12} {:>10.0} {:>11.2}   {}",
            name,
            summary.per_second,
            summary.cpu_micros,
            rounds.join(" "),
        );
    }
    // Each evently round next to the raw round that followed it.
    let pairs: Vec<String> = evently
        .rounds
        .iter()
        .zip(&raw.rounds)
        .map(|(e, r)| format!("{:.3}", e / r))
        .collect();
    println!(
        "{:<12} {:>10.3} {:>11.3}   {}",
        "evently/raw",
        evently.per_second / raw.per_second,
        evently.cpu_micros / raw.cpu_micros,
        pairs.join(" "),
    );
}

fn print_idle(table: &[(ServerKind, Idle)]) {
    println!();
    println!(
        "{:<12} {:>11} {:>11} {:>13}",
        "server", "before MiB", "after MiB", "KiB/conn"
    );
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    for (kind, idle) in table {
        println!(
            "{:<12} {:>11.2} {:>11.2} {:>13.2}",
            kind.name(),
            mib(idle.before),
            mib(idle.after),
            idle.kib_per_connection(),
        );
    }
}

fn main() {
    if let Ok(server) = std::env::var(SERVER_VAR) {
        run_server(&server);
        return;
    }
    let bench = std::env::args().any(|arg| arg == "--bench");
    let mut settings = Settings::read(bench);

    // Room for the idle connections on this side, inherited by the servers.
    let needed = settings.idle as u64 + SPARE_FILES;
    if let Some(limit) = ensure_open_files(needed)
        && limit < needed
    {
        let fit = limit.saturating_sub(SPARE_FILES).max(1) as usize;
        println!(
            "the open-file limit is {limit}: opening {fit} idle connections instead of {}",
            settings.idle
        );
        settings.idle = fit;
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    if let Err(error) = runtime.block_on(compare(settings)) {
        eprintln!("benchmark failed: {error}");
        std::process::exit(1);
    }
}
