//! The in-process test kit: requests, WebSockets and messages with no
//! socket and no broker, through the same connection code as TCP clients.

use std::time::Duration;

use evently::Stream;
use evently::amqp::ProduceError;
use evently::prelude::*;
use evently::testing::WsMessage;
use evently::ws::WsError;
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};

evently! {
    rest POST "/api/orders" + amqp produce "k.orders" => place;
    rest GET "/api/orders/{id}" => find;
    http GET "/stream" => stream;
    ws "/echo" => echo;
    amqp consume "k.orders" + produce "k.invoices" => invoice;
}

#[derive(Serialize, Deserialize)]
struct Order {
    id: u32,
    item: String,
}

async fn place(Json(order): Json<Order>, orders: Producer) -> Result<StatusCode, Problem> {
    orders
        .send(&order)
        .await
        .map_err(|e| Problem::internal(e.to_string()))?;
    Ok(StatusCode::ACCEPTED)
}

async fn find(Path(id): Path<u32>, headers: HeaderMap) -> Result<Json<Order>, Problem> {
    let item = headers
        .get("x-item")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("tea")
        .to_owned();
    match id {
        0 => Err(Problem::not_found("no order 0")),
        id => Ok(Json(Order { id, item })),
    }
}

async fn stream() -> Chunks<impl Stream<Item = String>> {
    Chunks::new(async_stream::stream! {
        for n in 0..3 {
            yield format!("chunk {n}\n");
        }
    })
}

async fn echo(mut socket: WebSocket) -> Result<(), WsError> {
    while let Some(message) = socket.recv().await {
        socket.send(message).await?;
    }
    Ok(())
}

async fn invoice(order: Order, invoices: Producer) -> Result<(), ProduceError> {
    invoices
        .send(&serde_json::json!({ "order": order.id, "item": order.item }))
        .await
}

fn config() -> evently::Config {
    evently::Config::default().body_limit(1024)
}

#[tokio::test]
async fn requests_are_answered_in_process() {
    let app = App::with_config(config()).unwrap().test().await.unwrap();

    let found = app
        .get("/api/orders/7")
        .header("x-item", "cake")
        .send()
        .await;
    assert_eq!(found.status(), 200);
    assert_eq!(found.header("content-type"), Some("application/json"));
    let order: Order = found.json();
    assert_eq!((order.id, order.item.as_str()), (7, "cake"));

    let missing = app.get("/api/orders/0").send().await;
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.json::<serde_json::Value>()["detail"], "no order 0");

    // Refusals come from the same code as over TCP.
    let not_json = app.post("/api/orders").body("{}").send().await;
    assert_eq!(not_json.status(), 415);
    let too_big = app
        .post("/api/orders")
        .header("content-type", "application/json")
        .body(vec![b' '; 4096])
        .send()
        .await;
    assert_eq!(too_big.status(), 413);
    assert_eq!(app.delete("/api/orders/7").send().await.status(), 405);

    let streamed = app.get("/stream").send().await;
    assert_eq!(streamed.text(), "chunk 0\nchunk 1\nchunk 2\n");
    app.shutdown().await;
}

#[tokio::test]
async fn websockets_open_in_process() {
    let app = App::with_config(config()).unwrap().test().await.unwrap();
    let mut socket = app.ws("/echo").await.unwrap();
    socket.send(WsMessage::text("hello")).await.unwrap();
    assert_eq!(
        socket.next().await.unwrap().unwrap(),
        WsMessage::text("hello")
    );
    socket.close(None).await.unwrap();

    // No WebSocket on a plain route: the upgrade is refused.
    assert!(app.ws("/stream").await.is_err());
    app.shutdown().await;
}

#[tokio::test]
async fn messages_flow_through_the_memory_broker() {
    let app = App::with_config(config()).unwrap().test().await.unwrap();
    assert!(app.is_ready());
    let placed = app
        .post("/api/orders")
        .json(&Order {
            id: 3,
            item: "tea".into(),
        })
        .send()
        .await;
    assert_eq!(placed.status(), 202);

    // The consumer took the order and produced its invoice.
    let broker = app.broker().unwrap();
    let invoices = broker.take("k.invoices", 1, Duration::from_secs(5)).await;
    assert_eq!(invoices.len(), 1);
    assert_eq!(invoices[0].json()["order"], 3);

    // And messages published by the test reach the consumer too.
    broker
        .publish(
            "k.orders",
            &Order {
                id: 4,
                item: "cake".into(),
            },
        )
        .await
        .unwrap();
    let invoices = broker.take("k.invoices", 1, Duration::from_secs(5)).await;
    assert_eq!(invoices[0].json()["item"], "cake");
    app.shutdown().await;
}
