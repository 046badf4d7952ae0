//! WebSockets bridged with AMQP, against a real RabbitMQ and against
//! `memory://`: each session gets its own consumer, and a subscription
//! reaches every session of every instance.

use std::time::Duration;

use evently::amqp::BrokerClient;
use evently::prelude::*;
use evently::{Config, Running};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as Wire;

evently! {
    ws "/chat" + amqp subscribe "b.chat" fanout + produce "b.received" instantly => chat;
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

on_both_brokers!(the_bridge_carries_both_ways);

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
