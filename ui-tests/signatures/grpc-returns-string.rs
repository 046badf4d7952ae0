//! A gRPC handler that returns a `String` instead of a reply message.

use evently::prelude::*;

evently! {
    grpc "greet.Greeter/SayHello" => say_hello;
}

#[derive(Clone, PartialEq, evently::grpc::Message)]
#[prost(prost_path = "::evently::grpc::prost")]
struct HelloRequest {
    #[prost(string, tag = "1")]
    name: String,
}

async fn say_hello(request: HelloRequest) -> String {
    format!("Hello {}", request.name)
}

fn main() {}
