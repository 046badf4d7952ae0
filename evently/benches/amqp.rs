//! AMQP benchmark: an evently consumer against raw lapin doing the same work.
//!
//! The pipeline is the one most services run: consume a message, decode its
//! JSON into a struct with serde, publish the struct as JSON to another
//! queue (persistent, mandatory, publisher confirms on), wait for the broker
//! to confirm it, then ack the input. On the evently side that is an
//! `amqp consume "in" + produce "out"` binding, whose `once_finished`
//! producer takes exactly that path. The raw side is lapin 4 alone: one
//! connection, a confirming publisher channel, a consumer channel with the
//! same prefetch, and one tokio task per delivery that decodes, publishes,
//! awaits the confirm and acks. Its outputs carry what evently's carry (a
//! message id, the cause's id as correlation id, a timestamp, the JSON
//! content type), so the broker stores and routes the same messages for
//! both. They differ in the acks: the raw side acks each delivery on its own,
//! as lapin's `Acker` does, while evently acks the messages whose handlers
//! finish together with one `basic.ack` (`multiple`).
//!
//! Each round purges its two queues, fills the input queue with N copies of
//! one ~100-byte JSON order (ids differ), pauses a second so that the broker
//! is done writing, then starts the clock and the consumer (connecting
//! included, the same for both) and stops the clock when a passive
//! `queue.declare` on the output queue, polled every few milliseconds over a
//! connection of the bench's own, reports N messages. A message counts there
//! only once the broker has taken it, which is when it confirms it, so both
//! sides are timed to the same event. After each round, untimed, the consumer
//! stops and the bench checks that the input queue is empty (every message
//! acked) and that the output queue holds exactly N.
//!
//! Rounds alternate between evently and lapin, and so does which of the two
//! goes first, so that noise on the machine and leftovers on the broker hit
//! both. The summary shows each side's median rate, the ratio of the
//! medians, and the median of the per-round ratios (the two runs of a round
//! ran back to back, under the same load). Beside the rate, each round shows
//! the CPU time this process used per message (user and system, from
//! `/proc/self/stat`, so Linux only): the cost on the client side, which
//! varies less than the rate when the broker shares the machine.
//!
//! The same pipeline then runs on the in-process `memory://` broker: the
//! input queue is filled through `Running::broker` while a gate holds the
//! handlers, the clock starts when the gate opens and stops when the last
//! handler has run, and the N outputs are then read back to check them.
//!
//! ```text
//! cargo bench -p evently --bench amqp
//! EVENTLY_BENCH_MESSAGES=50000 EVENTLY_BENCH_ROUNDS=5 cargo bench -p evently --bench amqp
//! ```
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `EVENTLY_BENCH_AMQP_URL` | `amqp://guest:guest@127.0.0.1:5672/%2f` | the RabbitMQ to run against |
//! | `EVENTLY_BENCH_MESSAGES` | `20000` | messages per round |
//! | `EVENTLY_BENCH_ROUNDS` | `3` | rounds per side (and on the memory broker) |
//! | `EVENTLY_BENCH_PREFETCH` | `100` | prefetch of both consumers |
//! | `EVENTLY_BENCH_THREADS` | the number of cores | tokio worker threads |
//! | `EVENTLY_BENCH_ONLY` | all three | `evently`, `lapin` or `memory`: run that side alone, as when profiling it |
//!
//! RabbitMQ must be running; the bench fails rather than skipping. Run
//! without `--bench` (as `cargo test --benches` does), it makes one small
//! round per side, only to check that both pipelines work.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use evently::prelude::*;
use evently::{Config, Running};
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions,
    BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions, QueueDeclareOptions,
    QueuePurgeOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, Semaphore};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What flows through both pipelines.
#[derive(Debug, Serialize, Deserialize)]
struct Order {
    id: u64,
    customer: String,
    sku: String,
    quantity: u32,
    price_cents: u64,
    express: bool,
}

fn order(id: u64) -> Order {
    Order {
        id: 1_000_000 + id,
        customer: "customer-004217".to_owned(),
        sku: "SKU-7731-BLUE-XL".to_owned(),
        quantity: 3,
        price_cents: 129_900,
        express: true,
    }
}

/// The queues of one side.
struct Queues {
    input: &'static str,
    output: &'static str,
}

const EVENTLY_QUEUES: Queues = Queues {
    input: "bench.evently.in",
    output: "bench.evently.out",
};

const LAPIN_QUEUES: Queues = Queues {
    input: "bench.lapin.in",
    output: "bench.lapin.out",
};

const MEMORY_QUEUES: Queues = Queues {
    input: "bench.memory.in",
    output: "bench.memory.out",
};

// The evently service, against RabbitMQ.

mod over_rabbit {
    use super::relay;

    evently::evently! {
        amqp consume "bench.evently.in" + produce "bench.evently.out" => relay;
    }
}

async fn relay(order: Order, out: Producer) -> Result<(), evently::amqp::ProduceError> {
    out.send(&order).await
}

// The same service on the memory broker, behind a gate so that the input
// queue can be filled before the clock starts.

mod in_memory {
    use super::{Gate, relay_after_gate};

    evently::evently! {
        state Gate;
        amqp consume "bench.memory.in" + produce "bench.memory.out" => relay_after_gate;
    }
}

/// Holds the memory broker's handlers until the queue is full, and counts
/// the handlers that finished.
#[derive(Clone)]
struct Gate {
    open: Arc<AtomicBool>,
    opened: Arc<Semaphore>,
    finished: Arc<AtomicUsize>,
    expected: usize,
    all_finished: Arc<Notify>,
}

impl Gate {
    fn new(expected: usize) -> Self {
        Gate {
            open: Arc::new(AtomicBool::new(false)),
            opened: Arc::new(Semaphore::new(0)),
            finished: Arc::new(AtomicUsize::new(0)),
            expected,
            all_finished: Arc::new(Notify::new()),
        }
    }

    async fn pass(&self) {
        if !self.open.load(Ordering::Acquire) {
            // A closed semaphore lets every waiter through at once.
            let _ = self.opened.acquire().await;
        }
    }

    fn open(&self) {
        self.open.store(true, Ordering::Release);
        self.opened.close();
    }

    fn finished_one(&self) {
        if self.finished.fetch_add(1, Ordering::AcqRel) + 1 == self.expected {
            self.all_finished.notify_one();
        }
    }
}

async fn relay_after_gate(
    order: Order,
    State(gate): State<Gate>,
    out: Producer,
) -> Result<(), evently::amqp::ProduceError> {
    gate.pass().await;
    let sent = out.send(&order).await;
    gate.finished_one();
    sent
}

// The raw lapin consumer.

/// Consumes `queues.input` until the returned handle is stopped.
struct RawConsumer {
    connection: Connection,
    channel: Channel,
    counts: Arc<RawCounts>,
}

#[derive(Default)]
struct RawCounts {
    settled: AtomicUsize,
    failed: AtomicUsize,
}

impl RawConsumer {
    async fn start(url: &str, queues: &'static Queues, prefetch: u16) -> lapin::Result<Self> {
        let connection = Connection::connect(url, ConnectionProperties::default()).await?;
        let publisher = connection.create_channel().await?;
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        declare(&publisher, queues).await?;

        let channel = connection.create_channel().await?;
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await?;
        let mut consumer = channel
            .basic_consume(
                queues.input.into(),
                "bench-lapin".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;

        // A task per delivery, as many at once as the prefetch lets in. The
        // publisher is shared behind an `Arc`: cloning a lapin `Channel` for
        // every message would cost more.
        let publisher = Arc::new(publisher);
        let counts = Arc::new(RawCounts::default());
        let shared = Arc::clone(&counts);
        tokio::spawn(async move {
            while let Some(Ok(delivery)) = consumer.next().await {
                let publisher = Arc::clone(&publisher);
                let counts = Arc::clone(&shared);
                tokio::spawn(async move {
                    let lapin::message::Delivery {
                        data,
                        properties,
                        acker,
                        ..
                    } = delivery;
                    let relayed = raw_relay(&publisher, queues.output, &data, &properties).await;
                    let settled = match relayed {
                        Ok(()) => acker.ack(BasicAckOptions::default()).await,
                        Err(_) => {
                            counts.failed.fetch_add(1, Ordering::Relaxed);
                            let requeue = BasicNackOptions {
                                requeue: true,
                                ..BasicNackOptions::default()
                            };
                            acker.nack(requeue).await
                        }
                    };
                    if settled.is_ok() {
                        counts.settled.fetch_add(1, Ordering::Release);
                    }
                });
            }
        });
        Ok(RawConsumer {
            connection,
            channel,
            counts,
        })
    }

    /// Waits for `n` settled deliveries, then cancels and closes.
    async fn stop(self, n: usize) -> Result<(), BoxError> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.counts.settled.load(Ordering::Acquire) < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Closing is not timed, and the checks after the round tell whether
        // every delivery was settled; a channel already closing is fine.
        let _ = self
            .channel
            .basic_cancel("bench-lapin".into(), BasicCancelOptions::default())
            .await;
        let _ = self.connection.close(200, "done".into()).await;
        let failed = self.counts.failed.load(Ordering::Relaxed);
        if failed > 0 {
            return Err(format!("lapin: {failed} deliveries failed").into());
        }
        Ok(())
    }
}

/// Decode, encode, publish, await the confirm: the work before the ack.
async fn raw_relay(
    publisher: &Channel,
    output: &str,
    data: &[u8],
    input: &BasicProperties,
) -> Result<(), BoxError> {
    static IDS: AtomicU64 = AtomicU64::new(0);

    let order: Order = serde_json::from_slice(data)?;
    let payload = serde_json::to_vec(&order)?;
    let cause = input.correlation_id().clone();
    let cause = cause.or_else(|| input.message_id().clone());
    let mut properties = BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_message_id(format!("lapin-{:08x}", IDS.fetch_add(1, Ordering::Relaxed)).into())
        .with_timestamp(unix_seconds());
    if let Some(cause) = cause {
        properties = properties.with_correlation_id(cause);
    }
    let options = BasicPublishOptions {
        mandatory: true,
        immediate: false,
    };
    let confirmation = publisher
        .basic_publish("".into(), output.into(), options, &payload, properties)
        .await?
        .await?;
    match confirmation {
        Confirmation::Ack(None) => Ok(()),
        other => Err(format!("not confirmed: {other:?}").into()),
    }
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

// Around the rounds: queues, filling, waiting.

/// The pause between filling a queue and starting its round.
const SETTLE: Duration = Duration::from_secs(1);

/// Declares a side's queues durable, as evently does.
async fn declare(channel: &Channel, queues: &Queues) -> lapin::Result<()> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    for queue in [queues.input, queues.output] {
        channel
            .queue_declare(queue.into(), durable, FieldTable::default())
            .await?;
    }
    Ok(())
}

/// The bench's own connection: it prepares the queues and watches them.
struct Observer {
    _connection: Connection,
    channel: Channel,
}

impl Observer {
    async fn connect(url: &str) -> Result<Self, BoxError> {
        let connection = Connection::connect(url, ConnectionProperties::default())
            .await
            .map_err(|e| format!("RabbitMQ is not reachable at {}: {e}", redacted(url)))?;
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Observer {
            _connection: connection,
            channel,
        })
    }

    async fn count(&self, queue: &str) -> lapin::Result<usize> {
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let declared = self
            .channel
            .queue_declare(queue.into(), passive, FieldTable::default())
            .await?;
        Ok(declared.message_count() as usize)
    }

    /// Empties both queues and fills the input with `n` orders, confirmed.
    async fn prepare(&self, queues: &Queues, n: usize) -> Result<(), BoxError> {
        declare(&self.channel, queues).await?;
        for queue in [queues.input, queues.output] {
            self.channel
                .queue_purge(queue.into(), QueuePurgeOptions::default())
                .await?;
        }
        let mut next = 0;
        while next < n {
            let batch = (next..n.min(next + 1000)).map(|i| async move {
                let payload = serde_json::to_vec(&order(i as u64))?;
                let properties = BasicProperties::default()
                    .with_delivery_mode(2)
                    .with_content_type("application/json".into())
                    .with_message_id(format!("order-{i}").into())
                    .with_timestamp(unix_seconds());
                let options = BasicPublishOptions {
                    mandatory: true,
                    immediate: false,
                };
                let confirmation = self
                    .channel
                    .basic_publish(
                        "".into(),
                        queues.input.into(),
                        options,
                        &payload,
                        properties,
                    )
                    .await?
                    .await?;
                match confirmation {
                    Confirmation::Ack(None) => Ok::<_, BoxError>(()),
                    other => Err(format!("filling {}: {other:?}", queues.input).into()),
                }
            });
            for filled in futures_util::future::join_all(batch).await {
                filled?;
            }
            next = n.min(next + 1000);
        }
        let filled = self.count(queues.input).await?;
        if filled != n {
            return Err(format!("{} holds {filled} messages, not {n}", queues.input).into());
        }

        // Let the broker finish writing before the clock starts.
        tokio::time::sleep(SETTLE).await;
        Ok(())
    }

    /// Returns once `queue` holds `n` messages.
    async fn wait_for(&self, queue: &str, n: usize) -> Result<(), BoxError> {
        let deadline = Instant::now() + Duration::from_secs(60) + Duration::from_millis(n as u64);
        loop {
            let count = self.count(queue).await?;
            if count >= n {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("{queue} holds {count} messages, {n} expected").into());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// After a round: every input acked, exactly `n` outputs.
    async fn check(&self, queues: &Queues, n: usize) -> Result<(), BoxError> {
        let left = self.count(queues.input).await?;
        let out = self.count(queues.output).await?;
        if left != 0 || out != n {
            return Err(format!(
                "after the round {} holds {left} (expected 0) and {} holds {out} (expected {n})",
                queues.input, queues.output
            )
            .into());
        }
        Ok(())
    }
}

fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

// The rounds.

struct Settings {
    url: String,
    messages: usize,
    rounds: usize,
    prefetch: u16,
    /// Runs one side only: `evently`, `lapin` or `memory`.
    only: Option<String>,
    /// False for the quick check that `cargo test --benches` makes.
    measuring: bool,
}

fn config(prefetch: u16) -> Config {
    Config::default()
        .http_addr(([127, 0, 0, 1], 0).into())
        .prefetch(prefetch)
        .log_filter("warn,lapin=off")
}

/// One timed round.
struct Measured {
    rate: f64,
    /// CPU time of this whole process per message, in microseconds.
    cpu_us: Option<f64>,
}

/// Times a round from `started` (with the CPU time used since `cpu`).
fn measured(n: usize, started: Instant, cpu: Option<Duration>) -> Measured {
    let elapsed = started.elapsed();
    let used = cpu.zip(cpu_time()).map(|(before, after)| after - before);
    Measured {
        rate: n as f64 / elapsed.as_secs_f64(),
        cpu_us: used.map(|used| used.as_secs_f64() * 1e6 / n as f64),
    }
}

/// The CPU time (user and system) this process has used, from
/// `/proc/self/stat`, whose clock ticks are 1/100 s on Linux.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let mut fields = after_name.split(' ').skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((user + system) * 10))
}

async fn evently_round(settings: &Settings, observer: &Observer) -> Result<Measured, BoxError> {
    let n = settings.messages;
    observer.prepare(&EVENTLY_QUEUES, n).await?;

    let (started, cpu) = (Instant::now(), cpu_time());
    let config = config(settings.prefetch).amqp_url(&settings.url);
    let running = over_rabbit::App::with_config(config)?.start().await?;
    observer.wait_for(EVENTLY_QUEUES.output, n).await?;
    let measured = measured(n, started, cpu);

    running.shutdown().await;
    observer.check(&EVENTLY_QUEUES, n).await?;
    Ok(measured)
}

async fn lapin_round(settings: &Settings, observer: &Observer) -> Result<Measured, BoxError> {
    let n = settings.messages;
    observer.prepare(&LAPIN_QUEUES, n).await?;

    let (started, cpu) = (Instant::now(), cpu_time());
    let consumer = RawConsumer::start(&settings.url, &LAPIN_QUEUES, settings.prefetch).await?;
    observer.wait_for(LAPIN_QUEUES.output, n).await?;
    let measured = measured(n, started, cpu);

    consumer.stop(n).await?;
    observer.check(&LAPIN_QUEUES, n).await?;
    Ok(measured)
}

async fn memory_round(settings: &Settings) -> Result<Measured, BoxError> {
    let n = settings.messages;
    let gate = Gate::new(n);
    let running: Running = in_memory::App::with_config(config(settings.prefetch), gate.clone())?
        .start()
        .await?;
    let client = running.broker().ok_or("the app has no broker")?;
    for i in 0..n {
        client
            .publish(MEMORY_QUEUES.input, &order(i as u64))
            .await?;
    }

    let all_finished = gate.all_finished.notified();
    let (started, cpu) = (Instant::now(), cpu_time());
    gate.open();
    tokio::time::timeout(Duration::from_secs(60), all_finished)
        .await
        .map_err(|_| "the memory pipeline did not finish in 60 s")?;
    let measured = measured(n, started, cpu);

    let outputs = client
        .take(MEMORY_QUEUES.output, n + 1, Duration::from_millis(500))
        .await;
    running.shutdown().await;
    if outputs.len() != n {
        return Err(format!(
            "{} outputs on the memory broker, {n} expected",
            outputs.len()
        )
        .into());
    }
    Ok(measured)
}

/// Prints a round and keeps it.
fn record(rounds: &mut Vec<Measured>, round: usize, side: &str, measured: Measured) {
    match measured.cpu_us {
        Some(cpu) => println!(
            "round {round}  {side:<8} {:>9.0} msgs/s  {cpu:>6.1} us CPU/msg",
            measured.rate
        ),
        None => println!("round {round}  {side:<8} {:>9.0} msgs/s", measured.rate),
    }
    rounds.push(measured);
}

/// The medians of the rates and of the CPU times of some rounds, if any.
fn medians(rounds: &[Measured]) -> Option<(f64, Option<f64>)> {
    if rounds.is_empty() {
        return None;
    }
    let rates: Vec<f64> = rounds.iter().map(|r| r.rate).collect();
    let cpu: Option<Vec<f64>> = rounds.iter().map(|r| r.cpu_us).collect();
    Some((median(&rates), cpu.map(|cpu| median(&cpu))))
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, found {value:?}")),
        Err(_) => default,
    }
}

async fn bench(settings: Settings) -> Result<(), BoxError> {
    let observer = Observer::connect(&settings.url).await?;
    println!(
        "consume -> decode -> publish (confirmed) -> ack: {} messages per round, \
         prefetch {}, {} round(s) per side",
        settings.messages, settings.prefetch, settings.rounds
    );
    if !settings.measuring {
        println!("a quick check that both pipelines work, not a measurement: run with --bench");
    }
    let runs = |side: &str| settings.only.as_deref().is_none_or(|only| only == side);

    let (mut evently, mut lapin, mut memory) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=settings.rounds {
        // Who goes first alternates too, so that neither always follows the
        // other's leftovers on the broker.
        for side in if round % 2 == 1 {
            ["evently", "lapin"]
        } else {
            ["lapin", "evently"]
        } {
            if !runs(side) {
                continue;
            }
            if side == "evently" {
                let measured = evently_round(&settings, &observer).await?;
                record(&mut evently, round, side, measured);
            } else {
                let measured = lapin_round(&settings, &observer).await?;
                record(&mut lapin, round, side, measured);
            }
        }
    }
    if runs("memory") {
        for round in 1..=settings.rounds {
            let measured = memory_round(&settings).await?;
            record(&mut memory, round, "memory", measured);
        }
    }

    println!();
    println!("median of {} round(s):", settings.rounds);
    let summary = |name: &str, rounds: &[Measured]| -> Option<f64> {
        let (rate, cpu) = medians(rounds)?;
        let cpu = cpu.map_or(String::new(), |c| format!("  {c:>6.1} us CPU/msg"));
        println!("  {name:<18} {rate:>9.0} msgs/s{cpu}");
        Some(rate)
    };
    let e = summary("evently, RabbitMQ", &evently);
    let l = summary("raw lapin", &lapin);
    if let (Some(e), Some(l)) = (e, l) {
        let ratio = e / l;
        let met = if ratio >= 0.95 { "met" } else { "not met" };
        println!("  evently / lapin    {ratio:>9.3}  (target >= 0.95: {met})");
        // Rounds of one pair ran back to back, under the same load.
        let pairs: Vec<f64> = evently
            .iter()
            .zip(&lapin)
            .map(|(e, l)| e.rate / l.rate)
            .collect();
        println!("  per-round ratios   {:>9.3}  (median)", median(&pairs));
    }
    summary("evently, memory://", &memory);
    Ok(())
}

fn main() -> Result<(), BoxError> {
    // `cargo bench` passes `--bench`; without it this is a quick check.
    let measuring = std::env::args().any(|arg| arg == "--bench");
    let settings = Settings {
        url: std::env::var("EVENTLY_BENCH_AMQP_URL")
            .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned()),
        messages: if measuring {
            env_or("EVENTLY_BENCH_MESSAGES", 20_000)
        } else {
            300
        },
        rounds: if measuring {
            env_or("EVENTLY_BENCH_ROUNDS", 3_usize).max(1)
        } else {
            1
        },
        prefetch: env_or("EVENTLY_BENCH_PREFETCH", 100_u16).max(1),
        only: std::env::var("EVENTLY_BENCH_ONLY")
            .ok()
            .filter(|only| !only.is_empty()),
        measuring,
    };
    if let Some(only) = &settings.only
        && !["evently", "lapin", "memory"].contains(&only.as_str())
    {
        return Err(
            format!("EVENTLY_BENCH_ONLY must be evently, lapin or memory: {only:?}").into(),
        );
    }
    let threads = env_or(
        "EVENTLY_BENCH_THREADS",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?
        .block_on(bench(settings))
}
