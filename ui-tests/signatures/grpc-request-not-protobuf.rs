//! A gRPC handler whose request is not a protobuf message.

use evently::grpc::Status;
use evently::prelude::*;

evently! {
    grpc "greet.Greeter/SayHello" => say_hello;
}

#[derive(Clone, PartialEq, evently::grpc::Message)]
#[prost(prost_path = "::evently::grpc::prost")]
struct HelloReply {
    #[prost(string, tag = "1")]
    message: String,
}

async fn say_hello(name: String) -> Result<HelloReply, Status> {
    Ok(HelloReply { message: format!("Hello {name}") })
}

fn main() {}
