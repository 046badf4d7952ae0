//! AMQP semantics, tested the same way against a real RabbitMQ and against
//! the in-process `memory://` broker.
//!
//! RabbitMQ is expected at `EVENTLY_TEST_AMQP_URL` (default
//! `amqp://guest:guest@127.0.0.1:5672/%2f`); `bash .ci/test` installs and
//! starts it. When it cannot be reached the RabbitMQ tests fail: they never
//! skip. Queues are durable and outlive a run, so every test tags its
//! messages with ids of its own and counts only those.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use evently::amqp::{BrokerClient, ProduceError, Received};
use evently::prelude::*;
use evently::{Config, Running};
use serde::{Deserialize, Serialize};
use serde_json::json;

evently! {
    rest POST "/orders" + amqp produce "t.orders" => place_order;
    rest POST "/unroutable/now" + amqp produce exchange "t.nowhere" key "x" instantly
        => unroutable_now;
    rest POST "/unroutable/later" + amqp produce exchange "t.nowhere" key "x" => unroutable_later;

    amqp consume "t.in" + produce "t.out" + produce "t.log" instantly => pipeline;
    amqp consume "t.flaky" + produce "t.flaky.out" => flaky;
    amqp consume "t.poison" + produce "t.poison.out" => poison;
    amqp consume "t.once" attempts 1 + produce "t.once.out" => poison;
    amqp consume "t.typed" + produce "t.typed.out" => typed;
    amqp consume "t.events" exchange "t.x" key "evt.*" + produce "t.events.out" => events;
    amqp consume "t.slow" + produce "t.slow.out" => slow;
    amqp consume "t.wide" prefetch 5 + produce "t.wide.out" => wide;
    amqp consume "t.headers" + produce "t.headers.out" => with_headers;
    amqp consume "t.held" prefetch 3 + produce "t.held.out" => held;
    amqp consume "t.route" + produce exchange "t.regions" key "region.none" instantly => route;
    amqp consume "t.regional" exchange "t.regions" key "region.*" + produce "t.regional.out"
        => with_headers;
    amqp subscribe "t.broadcast" fanout + produce "t.broadcast.out" => broadcast;
    amqp consume "t.quorum" quorum + produce "t.quorum.out" => events;
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Job {
    id: String,
}

/// Handler runs per job id, across every app of this test binary.
fn attempts() -> &'static Mutex<HashMap<String, u32>> {
    static ATTEMPTS: OnceLock<Mutex<HashMap<String, u32>>> = OnceLock::new();
    ATTEMPTS.get_or_init(Default::default)
}

fn count_attempt(id: &str) -> u32 {
    let mut attempts = attempts().lock().unwrap();
    let count = attempts.entry(id.to_owned()).or_default();
    *count += 1;
    *count
}

fn attempts_of(id: &str) -> u32 {
    attempts().lock().unwrap().get(id).copied().unwrap_or(0)
}

async fn place_order(Json(job): Json<Job>, orders: Producer) -> Result<StatusCode, Problem> {
    orders
        .send(&job)
        .await
        .map_err(|e| Problem::internal(e.to_string()))?;
    Ok(StatusCode::ACCEPTED)
}

async fn unroutable_now(out: Producer) -> Result<StatusCode, Problem> {
    match out.send(&json!({"lost": true})).await {
        Ok(()) => Ok(StatusCode::ACCEPTED),
        Err(error) if error.is_unroutable() => {
            Err(Problem::new(StatusCode::BAD_GATEWAY, error.to_string()))
        }
        Err(error) => Err(Problem::internal(error.to_string())),
    }
}

async fn unroutable_later(out: Producer) -> Result<StatusCode, Problem> {
    // Buffered until the handler returns; the runtime's publish then fails.
    out.send(&json!({"lost": true}))
        .await
        .map_err(|e| Problem::internal(e.to_string()))?;
    Ok(StatusCode::ACCEPTED)
}

async fn pipeline(job: Job, out: Producer, log: Producer) -> Result<(), ProduceError> {
    log.send(&json!({ "received": &job.id })).await?;
    out.send(&json!({ "processed": job.id })).await
}

/// Every tenth job fails on its first attempt, after it sent its output.
async fn flaky(job: Job, out: Producer) -> Result<(), String> {
    let attempt = count_attempt(&job.id);
    out.send(&job).await.map_err(|e| e.to_string())?;
    if attempt == 1 && job.id.ends_with('0') {
        return Err("flaky failure".to_owned());
    }
    Ok(())
}

async fn poison(job: Job, out: Producer) -> Result<(), String> {
    count_attempt(&job.id);
    out.send(&job).await.map_err(|e| e.to_string())?;
    if job.id.contains("panic") {
        panic!("poison handler panicked");
    }
    Err("this job always fails".to_owned())
}

async fn typed(job: Message<Job>, out: Producer) -> Result<(), ProduceError> {
    count_attempt(&job.body().id);
    let reply = json!({
        "id": job.body().id,
        "message_id": job.message_id(),
        "redelivered": job.redelivered(),
    });
    out.send(&reply).await
}

async fn events(job: Job, out: Producer) -> Result<(), ProduceError> {
    out.send(&job).await
}

/// Takes its time, so that shutdown finds it in flight.
async fn slow(job: Job, out: Producer) -> Result<(), ProduceError> {
    tokio::time::sleep(Duration::from_millis(400)).await;
    out.send(&job).await?;
    count_attempt(&job.id);
    Ok(())
}

/// Fails the first attempt of a job whose id ends in `flaky`, and every
/// attempt of one that contains `poison`.
async fn broadcast(job: Job, out: Producer) -> Result<(), String> {
    let attempt = count_attempt(&job.id);
    out.send(&job).await.map_err(|e| e.to_string())?;
    if job.id.contains("poison") {
        return Err("this broadcast always fails".to_owned());
    }
    if attempt == 1 && job.id.ends_with("flaky") {
        return Err("flaky broadcast".to_owned());
    }
    Ok(())
}

/// Handlers of `t.wide` in flight and the most seen at once, per run tag.
fn in_flight() -> &'static Mutex<HashMap<String, (u32, u32)>> {
    static IN_FLIGHT: OnceLock<Mutex<HashMap<String, (u32, u32)>>> = OnceLock::new();
    IN_FLIGHT.get_or_init(Default::default)
}

/// The run tag of a job id: everything before its last `-`.
fn tag_of(id: &str) -> String {
    id.rsplit_once('-').map_or(id, |(tag, _)| tag).to_owned()
}

/// Waits, at most 10 s, until five handlers of its run were in flight at
/// once, so the count reaches the prefetch whenever the runtime allows it,
/// however slow the machine.
async fn wide(job: Job, out: Producer) -> Result<(), ProduceError> {
    let tag = tag_of(&job.id);
    {
        let mut counts = in_flight().lock().unwrap();
        let (now, most) = counts.entry(tag.clone()).or_default();
        *now += 1;
        *most = (*most).max(*now);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while in_flight().lock().unwrap()[&tag].1 < 5 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    in_flight().lock().unwrap().get_mut(&tag).unwrap().0 -= 1;
    out.send(&job).await
}

/// Per run tag: the jobs of `t.held` handled, and whether the held job saw
/// every other job of its run handled before it finished.
type Handled = HashMap<String, (u32, Option<bool>)>;

fn handled() -> &'static Mutex<Handled> {
    static HANDLED: OnceLock<Mutex<Handled>> = OnceLock::new();
    HANDLED.get_or_init(Default::default)
}

/// The job whose id ends in `hold` waits, at most 10 s, until the twenty
/// other jobs of its run were handled. With a prefetch of 3 they can only
/// be delivered if their acks go out while it is still being handled.
async fn held(job: Job, out: Producer) -> Result<(), ProduceError> {
    count_attempt(&job.id);
    let tag = tag_of(&job.id);
    if job.id.ends_with("hold") {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let all_others = loop {
            let others = handled().lock().unwrap().get(&tag).map_or(0, |h| h.0);
            if others >= 20 {
                break true;
            }
            if tokio::time::Instant::now() > deadline {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        handled().lock().unwrap().entry(tag).or_default().1 = Some(all_others);
    } else {
        handled().lock().unwrap().entry(tag).or_default().0 += 1;
    }
    out.send(&job).await
}

/// A job for `route`: where to send it on, and for whom.
#[derive(Debug, Serialize, Deserialize)]
struct Routed {
    id: String,
    key: String,
    tenant: String,
}

/// What became of each job `route` sent on: `routed`, or the error.
fn routes() -> &'static Mutex<HashMap<String, String>> {
    static ROUTES: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    ROUTES.get_or_init(Default::default)
}

/// Sends each job on to the `t.regions` exchange with the routing key and
/// the tenant header the job names.
async fn route(job: Routed, out: Producer) -> Result<(), String> {
    let sent = out
        .message(&Job { id: job.id.clone() })
        .key(job.key)
        .header("x-tenant", job.tenant)
        .send()
        .await;
    let outcome = match sent {
        Ok(()) => "routed".to_owned(),
        Err(error) if error.is_unroutable() => "unroutable".to_owned(),
        Err(error) => error.to_string(),
    };
    routes().lock().unwrap().insert(job.id, outcome);
    Ok(())
}

/// Answers with what it read from the message's envelope.
async fn with_headers(job: Message<Job>, out: Producer) -> Result<(), ProduceError> {
    let reply = json!({
        "id": job.body().id,
        "tenant": job.header("x-tenant"),
        "correlation_id": job.correlation_id(),
    });
    out.send(&reply).await
}

/// Ids unique to one test of one run.
fn run_id(test: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{test}-{nanos:x}-{}",
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn rabbit_url() -> String {
    std::env::var("EVENTLY_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

/// RabbitMQ tests share one broker and the same queues: one at a time.
static RABBIT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Clone, Copy, Debug)]
enum Broker {
    Memory,
    Rabbit,
}

fn config(broker: Broker) -> Config {
    let config = Config::default()
        .http_addr(([127, 0, 0, 1], 0).into())
        .prefetch(20)
        .retry_attempts(3)
        .retry_delay(Duration::from_millis(50))
        .shutdown_timeout(Duration::from_secs(5));
    match broker {
        Broker::Memory => config,
        Broker::Rabbit => config.amqp_url(&rabbit_url()),
    }
}

/// Starts the app and waits until it is connected to its broker.
async fn start(config: Config) -> (Running, BrokerClient, String) {
    let running = App::with_config(config).unwrap().start().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !running.is_ready() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "RabbitMQ is not reachable at {}: `bash .ci/test` installs and starts it",
            rabbit_url()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let client = running.broker().expect("the app has a broker");
    let base = format!("http://{}", running.local_addr());
    (running, client, base)
}

/// Reads `queue` until `expected` messages of this run (those whose payload
/// contains `tag`) arrived, or `wait` passes without one.
async fn collect(client: &BrokerClient, queue: &str, tag: &str, expected: usize) -> Vec<Received> {
    let mut mine = Vec::new();
    while mine.len() < expected {
        let batch = client
            .take(queue, expected - mine.len(), Duration::from_secs(10))
            .await;
        if batch.is_empty() {
            break;
        }
        mine.extend(
            batch
                .into_iter()
                .filter(|m| String::from_utf8_lossy(&m.payload).contains(tag)),
        );
    }
    mine
}

/// Proves that nothing more arrives on `queue` for this run.
async fn assert_quiet(client: &BrokerClient, queue: &str, tag: &str) {
    let extra = client.take(queue, 1000, Duration::from_millis(500)).await;
    let mine: Vec<_> = extra
        .iter()
        .filter(|m| String::from_utf8_lossy(&m.payload).contains(tag))
        .map(Received::json)
        .collect();
    assert!(mine.is_empty(), "unexpected messages on {queue}: {mine:?}");
}

async fn publish_jobs(client: &BrokerClient, queue: &str, ids: &[String]) -> Vec<String> {
    let mut message_ids = Vec::new();
    for id in ids {
        let message_id = client
            .publish(queue, &Job { id: id.clone() })
            .await
            .unwrap();
        message_ids.push(message_id);
    }
    message_ids
}

async fn consumed_and_produced(broker: Broker) {
    let (running, client, _) = start(config(broker)).await;
    let tag = run_id("pipeline");
    let ids: Vec<String> = (0..200).map(|n| format!("{tag}-{n}")).collect();
    let message_ids = publish_jobs(&client, "t.in", &ids).await;

    let processed = collect(&client, "t.out", &tag, ids.len()).await;
    let received = collect(&client, "t.log", &tag, ids.len()).await;
    assert_eq!(processed.len(), ids.len());
    assert_eq!(received.len(), ids.len());

    // Every output names its cause: the input's message id is its
    // correlation id; and every output has an id of its own.
    let mut correlations: Vec<_> = processed
        .iter()
        .map(|m| m.correlation_id.clone().unwrap())
        .collect();
    correlations.sort();
    let mut expected = message_ids.clone();
    expected.sort();
    assert_eq!(correlations, expected);
    assert!(processed.iter().all(|m| m.message_id.is_some()));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for message in processed.iter().chain(&received) {
        assert_eq!(message.content_type.as_deref(), Some("application/json"));
        let timestamp = message.timestamp.expect("every message has a timestamp");
        assert!(
            timestamp.abs_diff(now) < 600,
            "timestamp {timestamp}, now {now}"
        );
    }
    let mut seen: Vec<_> = processed
        .iter()
        .map(|m| m.json()["processed"].clone())
        .collect();
    seen.sort_by_key(|v| v.to_string());
    seen.dedup();
    assert_eq!(seen.len(), ids.len(), "every job processed exactly once");

    assert_quiet(&client, "t.out", &tag).await;
    running.shutdown().await;
}

async fn http_requests_publish_before_answering(broker: Broker) {
    let (running, client, base) = start(config(broker)).await;
    let tag = run_id("orders");
    let http = reqwest::Client::new();
    for n in 0..20 {
        let response = http
            .post(format!("{base}/orders"))
            .header("x-correlation-id", format!("{tag}-corr-{n}"))
            .json(&Job {
                id: format!("{tag}-{n}"),
            })
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
    }
    let orders = collect(&client, "t.orders", &tag, 20).await;
    assert_eq!(orders.len(), 20);
    for order in &orders {
        let id = order.json()["id"].as_str().unwrap().to_owned();
        let n = id.rsplit('-').next().unwrap();
        assert_eq!(
            order.correlation_id.as_deref(),
            Some(format!("{tag}-corr-{n}").as_str())
        );
    }

    // A broken request publishes nothing.
    let response = http
        .post(format!("{base}/orders"))
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    running.shutdown().await;
}

async fn unroutable_messages_are_errors(broker: Broker) {
    let (running, client, base) = start(config(broker)).await;
    let http = reqwest::Client::new();

    let response = http
        .post(format!("{base}/unroutable/now"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    let problem: serde_json::Value = response.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("t.nowhere"),
        "{problem}"
    );

    let response = http
        .post(format!("{base}/unroutable/later"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);

    let error = client
        .publish("t.no-such-queue", &json!({}))
        .await
        .unwrap_err();
    assert!(error.is_unroutable(), "{error}");
    running.shutdown().await;
}

/// Many publishes in flight at once, one in seven to a queue that does not
/// exist: exactly those are reported unroutable, and every other one
/// arrives.
async fn unroutable_publishes_are_told_apart_in_a_crowd(broker: Broker) {
    let (running, client, _) = start(config(broker)).await;
    let tag = run_id("crowd");
    let mut publishes = tokio::task::JoinSet::new();
    for n in 0..350 {
        let client = client.clone();
        let job = Job {
            id: format!("{tag}-{n}"),
        };
        publishes.spawn(async move {
            let routed = n % 7 != 0;
            let queue = if routed {
                "t.orders"
            } else {
                "t.no-such-queue"
            };
            (job.id.clone(), routed, client.publish(queue, &job).await)
        });
    }
    let mut expected = std::collections::HashSet::new();
    while let Some(joined) = publishes.join_next().await {
        let (id, routed, result) = joined.unwrap();
        match result {
            Ok(_) if routed => {
                expected.insert(id);
            }
            Ok(_) => panic!("{id} went to no queue but was reported delivered"),
            Err(error) if !routed => assert!(error.is_unroutable(), "{id}: {error}"),
            Err(error) => panic!("{id} was routed but failed: {error}"),
        }
    }
    assert_eq!(expected.len(), 300);

    let arrived: std::collections::HashSet<String> =
        collect(&client, "t.orders", &tag, expected.len())
            .await
            .iter()
            .map(|m| m.json()["id"].as_str().unwrap().to_owned())
            .collect();
    assert_eq!(arrived, expected);
    assert_quiet(&client, "t.orders", &tag).await;
    running.shutdown().await;
}

/// Publishes `job` to the fanout exchange `t.broadcast`.
async fn broadcast_job(client: &BrokerClient, id: &str) {
    let payload = serde_json::to_vec(&Job { id: id.to_owned() }).unwrap();
    client
        .publish_bytes("t.broadcast", "", payload.into())
        .await
        .unwrap();
}

/// A subscription is retried and dead-lettered like a queue: a failure is
/// tried again on the instance's own queue, and the last one ends in the
/// exchange's dead-letter queue.
async fn subscriptions_retry_and_dead_letter(broker: Broker) {
    let (running, client, _) = start(config(broker)).await;
    let tag = run_id("broadcast");
    let (plain, flaky, poison) = (
        format!("{tag}-plain"),
        format!("{tag}-flaky"),
        format!("{tag}-poison"),
    );
    for id in [&plain, &flaky, &poison] {
        broadcast_job(&client, id).await;
    }

    let out = collect(&client, "t.broadcast.out", &tag, 2).await;
    let mut ids: Vec<_> = out
        .iter()
        .map(|m| m.json()["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(ids, vec![flaky.clone(), plain.clone()]);
    let dead = collect(&client, "t.broadcast.dead-letter", &tag, 1).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].json()["id"], poison.as_str());
    assert_eq!(dead[0].header("x-evently-attempt"), Some("3"));
    assert!(
        dead[0]
            .header("x-evently-reason")
            .unwrap()
            .contains("always fails")
    );
    assert_eq!(attempts_of(&plain), 1);
    assert_eq!(attempts_of(&flaky), 2);
    assert_eq!(attempts_of(&poison), 3);
    assert_quiet(&client, "t.broadcast.out", &tag).await;
    running.shutdown().await;
}

/// Every running instance has its own subscription queue: one message
/// published to the exchange is handled once by each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_reaches_every_instance() {
    let _one_at_a_time = RABBIT.lock().await;
    let (one, client, _) = start(config(Broker::Rabbit)).await;
    let (two, _, _) = start(config(Broker::Rabbit)).await;
    let tag = run_id("everyone");
    broadcast_job(&client, &format!("{tag}-hello")).await;

    let out = collect(&client, "t.broadcast.out", &tag, 2).await;
    assert_eq!(out.len(), 2, "each instance handles the message once");
    assert_quiet(&client, "t.broadcast.out", &tag).await;
    one.shutdown().await;
    two.shutdown().await;
}

/// `quorum` declares the queue and its dead-letter queue as RabbitMQ quorum
/// queues; they carry messages as any queue does.
async fn quorum_queues_are_declared_and_consumed(broker: Broker) {
    let (running, client, _) = start(config(broker)).await;
    let tag = run_id("quorum");
    publish_jobs(
        &client,
        "t.quorum",
        &[format!("{tag}-1"), format!("{tag}-2")],
    )
    .await;
    let out = collect(&client, "t.quorum.out", &tag, 2).await;
    assert_eq!(out.len(), 2);
    if let Broker::Rabbit = broker {
        let listed = std::process::Command::new("rabbitmqctl")
            .args(["-q", "list_queues", "name", "type"])
            .output()
            .expect("rabbitmqctl runs: `bash .ci/test` installs RabbitMQ");
        let listed = String::from_utf8_lossy(&listed.stdout);
        let type_of = |queue: &str| {
            listed
                .lines()
                .find_map(|line| {
                    let (name, kind) = line.split_once('\t')?;
                    (name == queue).then(|| kind.trim().to_owned())
                })
                .unwrap_or_else(|| panic!("no queue {queue} in:\n{listed}"))
        };
        assert_eq!(type_of("t.quorum"), "quorum");
        assert_eq!(type_of("t.quorum.dead-letter"), "quorum");
        assert_eq!(type_of("t.quorum.out"), "classic");
    }
    running.shutdown().await;
}

async fn poison_messages_are_dead_lettered(broker: Broker) {
    let (running, client, _) = start(config(broker)).await;
    let tag = run_id("poison");
    let ids = vec![format!("{tag}-fails"), format!("{tag}-panic")];
    publish_jobs(&client, "t.poison", &ids).await;

    let dead = collect(&client, "t.poison.dead-letter", &tag, 2).await;
    assert_eq!(dead.len(), 2);
    for message in &dead {
        assert_eq!(message.header("x-evently-attempt"), Some("3"));
        assert_eq!(message.header("x-evently-queue"), Some("t.poison"));
        let reason = message.header("x-evently-reason").unwrap();
        assert!(
            reason.contains("always fails") || reason.contains("panicked"),
            "{reason}"
        );
    }
    // Three attempts each, then no more: no hot loop.
    for id in &ids {
        assert_eq!(attempts_of(id), 3, "{id}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for id in &ids {
        assert_eq!(
            attempts_of(id),
            3,
            "{id} was tried again after dead-lettering"
        );
    }
    // What the failing handler produced once finished never went out.
    assert_quiet(&client, "t.poison.out", &tag).await;

    // The metrics saw each attempt. RabbitMQ's queues outlive a run, so
    // there they may also count messages an earlier run left behind.
    let page = reqwest::get(format!("http://{}/_evently/metrics", running.local_addr()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let messages = |outcome: &str| {
        let series =
            format!(r#"evently_amqp_messages_total{{source="t.poison",outcome="{outcome}"}} "#);
        page.lines()
            .find_map(|line| line.strip_prefix(&series))
            .unwrap_or_else(|| panic!("no {series} in\n{page}"))
            .parse::<u64>()
            .unwrap()
    };
    let (consumed, acked, retried, dead, requeued) = (
        messages("consumed"),
        messages("acked"),
        messages("retried"),
        messages("dead_lettered"),
        messages("requeued"),
    );
    assert_eq!(consumed, acked + retried + dead + requeued, "{page}");
    match broker {
        Broker::Memory => assert_eq!((consumed, retried, dead), (6, 4, 2), "{page}"),
        Broker::Rabbit => assert!(retried >= 4 && dead >= 2, "{page}"),
    }
    assert!(page.contains("evently_amqp_connected 1"), "{page}");
    running.shutdown().await;
}

async fn a_binding_sets_its_own_attempts(broker: Broker) {
    // The service retries three times; `t.once` says once.
    let (running, client, _) = start(config(broker)).await;
    let tag = run_id("once");
    let ids = vec![format!("{tag}-fails")];
    publish_jobs(&client, "t.once", &ids).await;

    let dead = collect(&client, "t.once.dead-letter", &tag, 1).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].header("x-evently-attempt"), Some("1"));
    assert_eq!(dead[0].header("x-evently-queue"), Some("t.once"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(attempts_of(&ids[0]), 1, "tried again after its one attempt");
    running.shutdown().await;
}

async fn undecodable_messages_are_dead_lettered_at_once(broker: Broker) {
    let (running, client, _) = start(config(broker)).await;
    let tag = run_id("undecodable");
    client
        .publish_bytes(
            "",
            "t.typed",
            format!("{{\"not-a-job\": \"{tag}\"}}").into_bytes().into(),
        )
        .await
        .unwrap();
    let good = format!("{tag}-good");
    let message_id = client
        .publish("t.typed", &Job { id: good.clone() })
        .await
        .unwrap();

    let dead = collect(&client, "t.typed.dead-letter", &tag, 1).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].header("x-evently-attempt"), Some("1"));
    assert!(
        dead[0]
            .header("x-evently-reason")
            .unwrap()
            .starts_with("undecodable")
    );

    let out = collect(&client, "t.typed.out", &tag, 1).await;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].json()["message_id"], message_id.as_str());
    assert_eq!(out[0].json()["redelivered"], false);
    assert_eq!(attempts_of(&good), 1);
    running.shutdown().await;
}

async fn failures_publish_nothing(broker: Broker) {
    let (running, client, _) = start(config(broker)).await;
    let tag = run_id("flaky");
    let ids: Vec<String> = (0..200).map(|n| format!("{tag}-{n}")).collect();
    publish_jobs(&client, "t.flaky", &ids).await;

    let out = collect(&client, "t.flaky.out", &tag, ids.len()).await;
    assert_eq!(out.len(), ids.len(), "one output per success");
    let runs: u32 = ids.iter().map(|id| attempts_of(id)).sum();
    let failures = ids.iter().filter(|id| id.ends_with('0')).count() as u32;
    assert_eq!(failures, 20);
    assert_eq!(runs - failures, ids.len() as u32, "successes equal outputs");
    assert_quiet(&client, "t.flaky.out", &tag).await;
    running.shutdown().await;
}

async fn exchanges_route_by_key(broker: Broker) {
    let (running, client, _) = start(config(broker)).await;
    let tag = run_id("events");
    let job = |id: &str| {
        serde_json::to_vec(&Job { id: id.to_owned() })
            .unwrap()
            .into()
    };
    client
        .publish_bytes("t.x", "evt.created", job(&format!("{tag}-a")))
        .await
        .unwrap();
    client
        .publish_bytes("t.x", "evt.deleted", job(&format!("{tag}-b")))
        .await
        .unwrap();
    let error = client
        .publish_bytes("t.x", "other.thing", job(&tag))
        .await
        .unwrap_err();
    assert!(error.is_unroutable(), "{error}");

    let out = collect(&client, "t.events.out", &tag, 2).await;
    assert_eq!(out.len(), 2);
    running.shutdown().await;
}

async fn handlers_choose_routing_keys_and_headers(broker: Broker) {
    let (running, client, _) = start(config(broker)).await;
    let tag = run_id("routed");
    let eu = Routed {
        id: format!("{tag}-eu"),
        key: "region.eu".to_owned(),
        tenant: "acme".to_owned(),
    };
    let nowhere = Routed {
        id: format!("{tag}-nowhere"),
        key: "nowhere.eu".to_owned(),
        tenant: "acme".to_owned(),
    };
    let cause = client.publish("t.route", &eu).await.unwrap();
    client.publish("t.route", &nowhere).await.unwrap();

    // The key chose the queue, the header reached the consumer, and the
    // correlation id still names the first cause.
    let out = collect(&client, "t.regional.out", &tag, 1).await;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].json()["id"], eu.id.as_str());
    assert_eq!(out[0].json()["tenant"], "acme");
    assert_eq!(out[0].correlation_id.as_deref(), Some(cause.as_str()));

    // A key that no queue is bound for is the handler's error to see.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !routes().lock().unwrap().contains_key(&nowhere.id) {
        assert!(tokio::time::Instant::now() < deadline, "not routed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let outcomes = routes().lock().unwrap().clone();
    assert_eq!(outcomes[&eu.id], "routed");
    assert_eq!(outcomes[&nowhere.id], "unroutable");
    assert_quiet(&client, "t.regional.out", &tag).await;
    running.shutdown().await;
}

async fn handlers_run_concurrently_up_to_the_prefetch(broker: Broker) {
    let (running, client, _) = start(config(broker)).await;
    let tag = run_id("wide");
    let ids: Vec<String> = (0..30).map(|n| format!("{tag}-{n}")).collect();
    publish_jobs(&client, "t.wide", &ids).await;

    let out = collect(&client, "t.wide.out", &tag, ids.len()).await;
    assert_eq!(out.len(), ids.len());
    let (now, most) = in_flight().lock().unwrap()[&tag];
    assert_eq!(now, 0);
    assert_eq!(
        most, 5,
        "the binding's prefetch bounds the handlers in flight"
    );
    running.shutdown().await;
}

async fn handlers_read_headers_and_correlation_ids(broker: Broker) {
    let (running, client, _) = start(config(broker)).await;
    let tag = run_id("headers");
    let payload = serde_json::to_vec(&Job { id: tag.clone() }).unwrap();
    let message_id = client
        .publish_with_headers("t.headers", payload.into(), &[("x-tenant", "acme")])
        .await
        .unwrap();
    let out = collect(&client, "t.headers.out", &tag, 1).await;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].json()["tenant"], "acme");
    // Without a correlation id of its own, a message's id is its effects'.
    assert_eq!(out[0].json()["correlation_id"], serde_json::Value::Null);
    assert_eq!(out[0].correlation_id.as_deref(), Some(message_id.as_str()));
    running.shutdown().await;
}

async fn a_slow_handler_does_not_hold_back_the_acks_behind_it(broker: Broker) {
    let (running, client, _) = start(config(broker)).await;
    let tag = run_id("held");
    let mut ids = vec![format!("{tag}-hold")];
    ids.extend((0..20).map(|n| format!("{tag}-{n}")));
    publish_jobs(&client, "t.held", &ids).await;

    let out = collect(&client, "t.held.out", &tag, ids.len()).await;
    assert_eq!(out.len(), ids.len());
    let (others, all_others) = handled().lock().unwrap()[&tag];
    assert_eq!(others, 20);
    assert_eq!(
        all_others,
        Some(true),
        "the held job finished before the others were handled: their acks waited for it"
    );
    running.shutdown().await;

    // Every job was acked once, and only once: a new instance gets none of
    // them again.
    let (running, client, _) = start(config(broker)).await;
    assert_quiet(&client, "t.held.out", &tag).await;
    for id in &ids {
        assert_eq!(attempts_of(id), 1, "{id} was delivered again");
    }
    running.shutdown().await;
}

async fn readiness_follows_the_broker(broker: Broker) {
    let (running, _, base) = start(config(broker)).await;
    let http = reqwest::Client::new();
    let ready = http
        .get(format!("{base}/_evently/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let health = http
        .get(format!("{base}/_evently/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    running.shutdown().await;
}

async fn shutdown_finishes_handlers_in_flight(broker: Broker) {
    let (running, client, _) = start(config(broker)).await;
    let tag = run_id("shutdown");
    let ids: Vec<String> = (0..10).map(|n| format!("{tag}-{n}")).collect();
    publish_jobs(&client, "t.slow", &ids).await;
    tokio::time::sleep(Duration::from_millis(150)).await;

    // Every handler was running; shutdown lets each finish, publish, ack.
    running.shutdown().await;
    for id in &ids {
        assert_eq!(
            attempts_of(id),
            1,
            "{id} did not finish before shutdown returned"
        );
    }

    if let Broker::Rabbit = broker {
        // A new instance finds the outputs, and nothing to redo: every
        // input was acked.
        let (running, client, _) = start(config(broker)).await;
        let out = collect(&client, "t.slow.out", &tag, ids.len()).await;
        assert_eq!(out.len(), ids.len());
        tokio::time::sleep(Duration::from_millis(800)).await;
        for id in &ids {
            assert_eq!(attempts_of(id), 1, "{id} was delivered again");
        }
        running.shutdown().await;
    }
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

on_both_brokers!(
    consumed_and_produced,
    http_requests_publish_before_answering,
    unroutable_messages_are_errors,
    unroutable_publishes_are_told_apart_in_a_crowd,
    subscriptions_retry_and_dead_letter,
    quorum_queues_are_declared_and_consumed,
    poison_messages_are_dead_lettered,
    a_binding_sets_its_own_attempts,
    undecodable_messages_are_dead_lettered_at_once,
    failures_publish_nothing,
    exchanges_route_by_key,
    handlers_choose_routing_keys_and_headers,
    handlers_run_concurrently_up_to_the_prefetch,
    handlers_read_headers_and_correlation_ids,
    a_slow_handler_does_not_hold_back_the_acks_behind_it,
    readiness_follows_the_broker,
    shutdown_finishes_handlers_in_flight,
);

/// The AsyncAPI document types each consumer's payload from the handler's
/// parameter, and still fits the official schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_asyncapi_document_describes_what_consumers_decode() {
    let (running, _, base) = start(config(Broker::Memory)).await;
    let doc: serde_json::Value = reqwest::get(format!("{base}/_evently/asyncapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let channel = &doc["channels"]["queue-t.in"];
    assert_eq!(channel["address"], "t.in", "{doc:#}");
    let message = &channel["messages"]["pipeline"];
    assert_eq!(
        message["payload"]["$ref"], "#/components/schemas/Job",
        "{doc:#}"
    );
    assert_eq!(
        doc["components"]["schemas"]["Job"]["properties"]["id"]["type"],
        "string"
    );
    // `Message<Job>` is typed the same way.
    let typed = &doc["channels"]["queue-t.typed"]["messages"]["typed"];
    assert_eq!(typed["payload"]["$ref"], "#/components/schemas/Job");
    let receive = &doc["operations"]["pipeline.receive"];
    assert_eq!(
        receive["messages"][0]["$ref"],
        "#/channels/queue-t.in/messages/pipeline"
    );
    // A subscription's channel is its exchange.
    let broadcast = &doc["channels"]["exchange-t.broadcast"];
    assert_eq!(broadcast["bindings"]["amqp"]["exchange"]["type"], "fanout");
    assert!(broadcast["messages"]["broadcast"].is_object());

    let python = std::env::var("EVENTLY_TEST_PYTHON")
        .unwrap_or_else(|_| panic!("EVENTLY_TEST_PYTHON is not set: run `bash .ci/test`"));
    let schema = std::env::var("EVENTLY_TEST_ASYNCAPI_SCHEMA")
        .unwrap_or_else(|_| panic!("EVENTLY_TEST_ASYNCAPI_SCHEMA is not set: run `bash .ci/test`"));
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/interop/asyncapi_check.py");
    let url = format!("{base}/_evently/asyncapi.json");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(script)
            .arg(schema)
            .arg(url)
            .output()
    })
    .await
    .unwrap()
    .expect("the AsyncAPI check runs");
    assert!(
        output.status.success(),
        "the AsyncAPI document does not fit the schema:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_cannot_be_reached_means_not_ready() {
    let config = config(Broker::Memory)
        .amqp_url("amqp://guest:guest@127.0.0.1:1/%2f")
        .broker_timeout(Duration::from_secs(1));
    let running = App::with_config(config).unwrap().start().await.unwrap();
    let base = format!("http://{}", running.local_addr());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!running.is_ready());
    let http = reqwest::Client::new();
    let ready = http
        .get(format!("{base}/_evently/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);

    // Publishing waits a bounded time, then the client gets 503.
    let order = http
        .post(format!("{base}/orders"))
        .json(&Job { id: "x".into() })
        .send()
        .await
        .unwrap();
    assert_eq!(order.status(), 503);
    running.shutdown().await;
}
