//! A tour of evently: every protocol this version serves, in one block.
//!
//! ```text
//! cargo run --example tour
//! curl localhost:8080/hello
//! curl -H 'content-type: application/json' -d '{"name": "Ada"}' localhost:8080/api/hello
//! curl localhost:8080/api/hello/Ada
//! curl -N localhost:8080/hello/stream
//! curl -H 'content-type: application/json' -d '{"item": "tea", "quantity": 2}' \
//!     localhost:8080/api/orders
//! curl -H 'content-type: application/json' -d '{"text": "tea is ready"}' \
//!     localhost:8080/api/announcements
//! curl localhost:8080/_evently/topology
//! grpcurl -plaintext -proto examples/proto/tour.proto -d '{"name": "Ada"}' \
//!     localhost:8080 tour.Greeter/SayHello
//! grpcurl -plaintext -proto examples/proto/tour.proto -d '{"name": "Ada"}' \
//!     localhost:8080 tour.Greeter/SayHelloStream
//! curl 'localhost:8080/soap/calculator?wsdl'
//! curl -H 'content-type: text/xml' -d '<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/">
//!     <Body><Add xmlns=""><a>1</a><b>2</b></Add></Body></Envelope>' localhost:8080/soap/calculator
//! ```
//!
//! The broker is the in-process `memory://` one unless `EVENTLY_AMQP_URL`
//! names a RabbitMQ, such as `amqp://guest:guest@127.0.0.1:5672/%2f`.

use evently::grpc::Status;
use evently::prelude::*;
use serde::{Deserialize, Serialize};

/// The gRPC messages of `examples/proto/tour.proto`.
#[path = "proto/tour.rs"]
mod proto;

evently! {
    http GET "/hello" => hello_page;
    http GET "/hello/stream" + amqp produce "hello" => hello_stream;
    ws "/ws/echo" => echo;
    ws "/ws/chat" + amqp subscribe "chat" fanout + produce "received" instantly => chat;
    rest POST "/api/hello" => hello;
    rest GET "/api/hello/{name}" => hello_by_name;
    rest POST "/api/orders" + amqp produce "orders" => place_order;
    rest POST "/api/announcements" + amqp produce exchange "announcements" fanout => announce;
    grpc "tour.Greeter/SayHello" => say_hello;
    grpc "tour.Greeter/SayHelloStream" => say_hello_stream;
    soap "/soap/calculator" Add => add;
    soap "/soap/calculator" Divide => divide;

    amqp consume "first-queue"
        + produce "second-queue" instantly as received
        + produce "second-queue" once_finished as processed
        => relay;
    amqp consume "hello" => log_hello;
    amqp subscribe "announcements" fanout => hear_announcement;
}

#[derive(Deserialize)]
struct HelloRequest {
    name: String,
}

#[derive(Serialize)]
struct HelloReply {
    message: String,
}

async fn hello_page() -> Html<&'static str> {
    Html("<!doctype html><html><body><h1>Hello World</h1></body></html>")
}

/// Five chunks, a short pause between them; a note goes to `hello` once the
/// client has read them all.
async fn hello_stream(hello: Producer) -> Chunks<impl evently::Stream<Item = String>> {
    Chunks::html(stream! {
        for n in 1..=5 {
            yield format!("<p>Hello World, chunk {n} of 5</p>\n");
            if n < 5 {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
        if let Err(error) = hello.send(&serde_json::json!({ "message": "streamed 5 chunks" })).await {
            tracing::error!(%error, "the note was not sent");
        }
    })
}

/// Echoes every text, JSON and binary message.
async fn echo(mut socket: WebSocket) {
    while let Some(message) = socket.recv().await {
        if socket.send(message).await.is_err() {
            break;
        }
    }
}

/// Publishes what the client says to `received`, and pushes to the client
/// every message published to the `chat` exchange, by any instance.
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
                let text = delivery.text().unwrap_or_default().to_owned();
                socket.send(text).await?;
                // Acked once written to the socket.
                delivery.ack().await?;
            }
        }
    }
}

async fn hello(Json(request): Json<HelloRequest>) -> Json<HelloReply> {
    greet(&request.name)
}

async fn hello_by_name(Path(name): Path<String>) -> Json<HelloReply> {
    greet(&name)
}

fn greet(name: &str) -> Json<HelloReply> {
    Json(HelloReply {
        message: format!("Hello {name}"),
    })
}

/// `tour.Greeter/SayHello`: one reply.
async fn say_hello(request: proto::HelloRequest) -> Result<proto::HelloReply, Status> {
    Ok(proto::HelloReply {
        message: format!("Hello {}", request.name),
    })
}

/// `tour.Greeter/SayHelloStream`: five replies, each sent as it is yielded.
async fn say_hello_stream(
    request: proto::HelloRequest,
) -> evently::grpc::Replies<impl evently::Stream<Item = Result<proto::HelloReply, Status>>> {
    evently::grpc::Replies::new(stream! {
        for n in 1..=5 {
            yield Ok(proto::HelloReply {
                message: format!("Hello {}, reply {n} of 5", request.name),
            });
        }
    })
}

#[derive(Serialize, Deserialize)]
struct Order {
    item: String,
    quantity: u32,
}

/// Accepts the order; it is published to `orders` before the 202 goes out.
async fn place_order(Json(order): Json<Order>, orders: Producer) -> Result<StatusCode, Problem> {
    orders
        .send(&order)
        .await
        .map_err(|e| Problem::internal(e.to_string()))?;
    Ok(StatusCode::ACCEPTED)
}

/// Tells `second-queue` at once that a message arrived, and once more
/// after it was handled.
async fn relay(
    message: serde_json::Value,
    received: Producer,
    processed: Producer,
) -> Result<(), evently::amqp::ProduceError> {
    received
        .send(&serde_json::json!({ "received": &message }))
        .await?;
    processed
        .send(&serde_json::json!({ "processed": message }))
        .await
}

/// The operands of the calculator's operations.
#[derive(Serialize, Deserialize)]
struct Operands {
    a: i64,
    b: i64,
}

/// The result of a calculator operation.
#[derive(Serialize, Deserialize)]
struct Outcome {
    result: i64,
}

async fn add(Operands { a, b }: Operands) -> Result<Outcome, Fault> {
    a.checked_add(b)
        .map(|result| Outcome { result })
        .ok_or_else(|| Fault::client(format!("{a} + {b} does not fit in a 64-bit integer")))
}

/// Divides `a` by `b`, rounding toward zero; dividing by zero is the
/// client's fault.
async fn divide(Operands { a, b }: Operands) -> Result<Outcome, Fault> {
    match a.checked_div(b) {
        Some(result) => Ok(Outcome { result }),
        None if b == 0 => Err(Fault::client("cannot divide by zero")),
        None => Err(Fault::client(format!(
            "{a} / {b} does not fit in a 64-bit integer"
        ))),
    }
}

async fn log_hello(message: serde_json::Value) {
    tracing::info!(%message, "hello");
}

#[derive(Serialize, Deserialize)]
struct Announcement {
    text: String,
}

/// Publishes to the fanout exchange `announcements`: every running instance
/// of the tour hears it, each on a queue of its own.
async fn announce(
    Json(announcement): Json<Announcement>,
    announcements: Producer,
) -> Result<StatusCode, Problem> {
    announcements
        .send(&announcement)
        .await
        .map_err(|e| Problem::internal(e.to_string()))?;
    Ok(StatusCode::ACCEPTED)
}

async fn hear_announcement(announcement: Announcement) {
    tracing::info!(text = %announcement.text, "announcement heard");
}

#[tokio::main]
async fn main() -> evently::Result<()> {
    App::from_env()?.run().await
}
