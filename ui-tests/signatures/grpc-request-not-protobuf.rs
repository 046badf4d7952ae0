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

/// A plain struct: it derives no `prost::Message`, so it cannot be decoded
/// from a gRPC request.
struct HelloRequest {
    name: String,
}

async fn say_hello(request: HelloRequest) -> Result<HelloReply, Status> {
    Ok(HelloReply { message: format!("Hello {}", request.name) })
}

fn main() {}
