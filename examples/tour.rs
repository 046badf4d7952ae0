//! A tour of evently: every protocol this version serves, in one block.
//!
//! ```text
//! cargo run --example tour
//! curl localhost:8080/hello
//! curl -H 'content-type: application/json' -d '{"name": "Ada"}' localhost:8080/api/hello
//! curl localhost:8080/api/hello/Ada
//! ```

use evently::prelude::*;
use serde::{Deserialize, Serialize};

evently! {
    http GET "/hello" => hello_page;
    rest POST "/api/hello" => hello;
    rest GET "/api/hello/{name}" => hello_by_name;
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

#[tokio::main]
async fn main() -> evently::Result<()> {
    App::from_env()?.run().await
}
