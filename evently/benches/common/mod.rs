//! The harness the HTTP, WebSocket and gRPC benchmarks share.
//!
//! Each of them compares evently with a rival server doing the same work.
//! Both servers run in child processes, the benchmark's own binary started
//! again with [`SERVER_VAR`] naming the server, so that the CPU time and the
//! memory read from `/proc` are theirs alone. The parent loads them in
//! rounds that take turns between the two and sums each server's rounds up
//! by their medians. What a benchmark serves, and how it loads a server,
//! stays in its own file.
//!
//! The variables every benchmark reads alike are read here:
//! `EVENTLY_BENCH_SECS`, `EVENTLY_BENCH_WARMUP_SECS`, `EVENTLY_BENCH_ROUNDS`
//! and `EVENTLY_BENCH_THREADS`.

use std::fmt;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// Set in a child process to the name of the server it runs.
const SERVER_VAR: &str = "EVENTLY_BENCH_SERVER";

/// A child announces its port with this line on stdout.
const PORT_LINE: &str = "evently-bench port ";

// The child process.

/// Runs the server [`SERVER_VAR`] names if the parent started this process
/// as one: evently's, or the rival's called `rival`. A child serves until the
/// parent closes its stdin (or kills it) and never returns; the parent
/// returns at once.
///
/// # Panics
///
/// If [`SERVER_VAR`] names neither server.
pub(crate) fn serve_if_child<E, R>(
    rival: &str,
    serve_evently: impl FnOnce() -> E,
    serve_rival: impl FnOnce() -> R,
) where
    E: Future<Output = ()>,
    R: Future<Output = ()>,
{
    let Ok(name) = std::env::var(SERVER_VAR) else {
        return;
    };
    let evently = match name.as_str() {
        "evently" => true,
        name if name == rival => false,
        other => panic!("{SERVER_VAR} must be `evently` or `{rival}`, found {other:?}"),
    };
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(server_threads())
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async move {
        if evently {
            serve_evently().await;
        } else {
            serve_rival().await;
        }
    });
    std::process::exit(0);
}

/// evently's configuration in a child: the defaults, on a free loopback port.
pub(crate) fn evently_config() -> evently::Config {
    evently::Config::default().http_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
}

/// Announces the port of a started evently service, then keeps it serving.
pub(crate) async fn keep_serving(running: evently::Running) {
    announce(running.local_addr());
    std::future::pending::<()>().await;
}

/// Serves as the rival: listens on a free loopback port, announces it, and
/// hands every connection, with `TCP_NODELAY`, to `serve`, whose future
/// then runs on a task of its own, its output ignored.
pub(crate) async fn serve_connections<F>(mut serve: impl FnMut(TcpStream) -> F)
where
    F: Future<Output: Send + 'static> + Send + 'static,
{
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("the rival server binds");
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
        tokio::spawn(serve(stream));
    }
}

fn announce(addr: SocketAddr) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{PORT_LINE}{}", addr.port());
    let _ = stdout.flush();
}

// The parent process.

/// Whether cargo runs us as a benchmark (`--bench`), rather than as the
/// quick check of `cargo test --benches`.
pub(crate) fn is_bench() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}

/// Runs the comparison on a tokio runtime, and exits with its error if it
/// fails.
pub(crate) fn run(compare: impl Future<Output = Result<(), String>>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    if let Err(error) = runtime.block_on(compare) {
        eprintln!("benchmark failed: {error}");
        std::process::exit(1);
    }
}

/// Opens a connection of the load to `addr`, with `TCP_NODELAY`.
pub(crate) async fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("cannot set TCP_NODELAY: {e}"))?;
    Ok(stream)
}

/// A server child process, killed when dropped.
pub(crate) struct Server {
    /// What [`SERVER_VAR`] named it.
    name: &'static str,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    child: Child,
}

impl Server {
    /// Starts this binary again as the server `name`, and waits until it
    /// listens.
    pub(crate) fn spawn(name: &'static str) -> Server {
        let exe = std::env::current_exe().expect("the bench binary's path");
        let mut child = Command::new(exe)
            .env(SERVER_VAR, name)
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
            assert!(read > 0, "the {name} server exited before listening");
            if let Some(port) = line.trim_end().strip_prefix(PORT_LINE) {
                break port.parse::<u16>().expect("the server prints its port");
            }
        };

        // Keep draining its stdout so that a log line can never block it.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        Server {
            name,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child,
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
}

// The HTTP benchmark reads the peak, the WebSocket one the size now and the
// gRPC one neither; each benchmark is a crate of its own.
#[allow(dead_code, reason = "not every benchmark reads both sizes")]
impl Server {
    /// Resident set size now, in bytes.
    pub(crate) fn rss(&self) -> u64 {
        self.status_kib("VmRSS") * 1024
    }

    /// Peak resident set size, in bytes.
    pub(crate) fn peak_rss(&self) -> u64 {
        self.status_kib("VmHWM") * 1024
    }

    /// A size from `/proc/<pid>/status`, in KiB.
    fn status_kib(&self, field: &str) -> u64 {
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path).expect("/proc/<pid>/status reads");
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|value| value.trim().strip_suffix("kB"))
            .and_then(|value| value.trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{field} in /proc/<pid>/status"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// Settings.

/// What every benchmark reads alike; each reads the shape of its load
/// itself.
pub(crate) struct Settings {
    /// Unmeasured time before each round.
    warmup: Duration,
    /// Measured time of each round.
    duration: Duration,
    /// Rounds per server.
    rounds: usize,
    /// Worker threads of each server.
    threads: usize,
    /// The unit of utime and stime in `/proc/<pid>/stat`.
    clock_ticks: u64,
}

impl Settings {
    /// The settings of a benchmark run if `bench`, else of the quick check.
    pub(crate) fn read(bench: bool) -> Settings {
        let seconds =
            |name, default, quick| Duration::from_secs_f64(setting(bench, name, default, quick));
        Settings {
            warmup: seconds("EVENTLY_BENCH_WARMUP_SECS", 1.0, 0.05),
            duration: seconds("EVENTLY_BENCH_SECS", 3.0, 0.2),
            rounds: setting(bench, "EVENTLY_BENCH_ROUNDS", 3.0, 1.0) as usize,
            threads: server_threads(),
            clock_ticks: clock_ticks(),
        }
    }
}

/// The end of a benchmark's first line, after what it says of its load.
impl fmt::Display for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} round(s) of {:.1} s per server after {:.1} s of warm-up each, \
             {} server worker threads",
            self.rounds,
            self.duration.as_secs_f64(),
            self.warmup.as_secs_f64(),
            self.threads,
        )
    }
}

/// A number setting: in a benchmark run (`bench`), the variable `name`, or
/// `default` when it is not set; in the quick check, `quick`, whatever the
/// environment says.
///
/// # Panics
///
/// If the variable is read and holds anything but a positive number.
pub(crate) fn setting(bench: bool, name: &str, default: f64, quick: f64) -> f64 {
    if bench { number(name, default) } else { quick }
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

/// The worker threads of each server; the children read it too.
fn server_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    number("EVENTLY_BENCH_THREADS", cores as f64) as usize
}

fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100)
}

// Rounds.

/// What the clients of a round share: whether the round has stopped, and
/// how many answers they have checked.
#[derive(Clone)]
pub(crate) struct Tally {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
}

impl Tally {
    /// Whether the round is over, so that a client should stop sending.
    pub(crate) fn is_stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Counts one answer that came back and was right.
    pub(crate) fn add_one(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    fn count(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }
}

/// The client tasks of one round.
pub(crate) struct Clients {
    tally: Tally,
    tasks: JoinSet<Result<(), String>>,
}

impl Clients {
    pub(crate) fn new() -> Clients {
        Clients {
            tally: Tally {
                stop: Arc::new(AtomicBool::new(false)),
                done: Arc::new(AtomicU64::new(0)),
            },
            tasks: JoinSet::new(),
        }
    }

    /// Starts the client that `drive` makes from the round's tally: it
    /// counts each right answer, returns once the round stops, and fails on
    /// a wrong answer.
    pub(crate) fn spawn<F>(&mut self, drive: impl FnOnce(Tally) -> F)
    where
        F: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.tasks.spawn(drive(self.tally.clone()));
    }

    /// Lets the clients warm up, measures them against `server` for a
    /// round, then stops them. Fails if any of them did, or with `nothing`
    /// if no answer came back in the measured window.
    pub(crate) async fn measure(
        mut self,
        server: &Server,
        settings: &Settings,
        nothing: &str,
    ) -> Result<Round, String> {
        // Warm up (and finish connecting), unmeasured.
        tokio::time::sleep(settings.warmup).await;

        // Measure a window while every client is busy.
        let (completed, ticks, started) = (self.tally.count(), server.cpu_ticks(), Instant::now());
        tokio::time::sleep(settings.duration).await;
        let seconds = started.elapsed().as_secs_f64();
        let completed = self.tally.count() - completed;
        let ticks = server.cpu_ticks() - ticks;

        // Stop, and fail the round if any answer was wrong.
        self.tally.stop.store(true, Ordering::Relaxed);
        let drained = tokio::time::timeout(Duration::from_secs(10), async {
            let mut outcome = Ok(());
            while let Some(joined) = self.tasks.join_next().await {
                let result = joined
                    .map_err(|e| format!("a client task failed: {e}"))
                    .and_then(|r| r);
                outcome = outcome.and(result);
            }
            outcome
        })
        .await;
        drained.map_err(|_| "the server stopped answering".to_owned())??;
        if completed == 0 {
            return Err(nothing.to_owned());
        }
        Ok(Round {
            completed,
            seconds,
            cpu_seconds: ticks as f64 / settings.clock_ticks as f64,
        })
    }
}

/// What one round measured.
pub(crate) struct Round {
    /// Answers checked in the measured window: requests, calls or echoes.
    completed: u64,
    seconds: f64,
    cpu_seconds: f64,
}

impl Round {
    fn per_second(&self) -> f64 {
        self.completed as f64 / self.seconds
    }

    fn cpu_micros_each(&self) -> f64 {
        self.cpu_seconds * 1e6 / self.completed.max(1) as f64
    }
}

/// Measures both servers `settings.rounds` times with `round`, taking turns
/// so that noise on the machine hits both, and sums up each one's rounds.
/// A failed round fails it all, with the server's name and `what` was
/// measured, if given, in front of the error.
pub(crate) async fn alternate(
    servers: &[Server; 2],
    settings: &Settings,
    what: Option<&str>,
    mut round: impl AsyncFnMut(&Server) -> Result<Round, String>,
) -> Result<[Summary; 2], String> {
    let mut rounds: [Vec<Round>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..settings.rounds {
        for (server, rounds) in servers.iter().zip(&mut rounds) {
            let measured = round(server).await.map_err(|e| match what {
                Some(what) => format!("{} server, {what}: {e}", server.name),
                None => format!("{} server: {e}", server.name),
            })?;
            rounds.push(measured);
        }
    }
    Ok(rounds.map(|rounds| Summary::new(&rounds)))
}

/// One server's rounds, summed up.
pub(crate) struct Summary {
    /// The median of the answers per second.
    pub(crate) per_second: f64,
    /// The median of the server's CPU time per answer, in microseconds.
    pub(crate) cpu_micros: f64,
    rounds: Vec<f64>,
}

impl Summary {
    fn new(rounds: &[Round]) -> Summary {
        let per_round: Vec<f64> = rounds.iter().map(Round::per_second).collect();
        Summary {
            per_second: median(per_round.clone()),
            cpu_micros: median(rounds.iter().map(Round::cpu_micros_each).collect()),
            rounds: per_round,
        }
    }

    /// The answers per second of each round, for the table.
    pub(crate) fn per_round(&self) -> String {
        let rounds: Vec<String> = self.rounds.iter().map(|r| format!("{r:.0}")).collect();
        rounds.join(" ")
    }

    /// Each of our rounds over the `rival`'s round that followed it, for the
    /// table.
    pub(crate) fn ratios(&self, rival: &Summary) -> String {
        let ratios: Vec<String> = self
            .rounds
            .iter()
            .zip(&rival.rounds)
            .map(|(ours, theirs)| format!("{:.3}", ours / theirs))
            .collect();
        ratios.join(" ")
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    // The middle value, or the mean of the two in the middle.
    let len = values.len();
    (values[(len - 1) / 2] + values[len / 2]) / 2.0
}
