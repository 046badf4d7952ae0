//! Nothing is lost when RabbitMQ drops every connection, several times, and
//! restarts: 10,000 messages through a consume-and-produce pipeline while
//! `rabbitmqctl` injects the faults. Duplicates are allowed (delivery is at
//! least once) and reported.

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use evently::amqp::{BrokerClient, ProduceError};
use evently::prelude::*;
use evently::{Config, Running};
use serde::{Deserialize, Serialize};

evently! {
    amqp consume "f.in" + produce "f.out" => relay;
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

async fn start() -> (Running, BrokerClient) {
    let url = std::env::var("EVENTLY_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
    let config = Config::default()
        .http_addr(([127, 0, 0, 1], 0).into())
        .amqp_url(&url)
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
