//! A page, a JSON endpoint and a path parameter: the block of the tour example.

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
    Html("<h1>Hello World</h1>")
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

fn main() {
    assert_eq!(App::TOPOLOGY.bindings().len(), 3);
}
