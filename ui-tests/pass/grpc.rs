//! `grpc` entries: a unary method, a server-streaming one, state and
//! producers.

use evently::grpc::{Replies, Status};
use evently::prelude::*;
use evently::Stream;

#[derive(Clone, Default)]
struct Greeting(&'static str);

evently! {
    state Greeting;

    grpc "greet.Greeter/SayHello" => say_hello;
    grpc "greet.Greeter/SayHelloStream" => say_hello_stream;
    grpc "greet.Greeter/Remember" + amqp produce "greeted" => remember;
}

#[derive(Clone, PartialEq, evently::grpc::Message)]
#[prost(prost_path = "::evently::grpc::prost")]
struct HelloRequest {
    #[prost(string, tag = "1")]
    name: String,
}

#[derive(Clone, PartialEq, evently::grpc::Message)]
#[prost(prost_path = "::evently::grpc::prost")]
struct HelloReply {
    #[prost(string, tag = "1")]
    message: String,
}

async fn say_hello(
    request: HelloRequest,
    State(greeting): State<Greeting>,
) -> Result<HelloReply, Status> {
    Ok(HelloReply { message: format!("{} {}", greeting.0, request.name) })
}

async fn say_hello_stream(
    request: HelloRequest,
) -> Replies<impl Stream<Item = Result<HelloReply, Status>>> {
    Replies::new(stream! {
        for n in 1..=3 {
            yield Ok(HelloReply { message: format!("Hello {} #{n}", request.name) });
        }
    })
}

async fn remember(
    request: HelloRequest,
    greeted: Producer,
) -> Result<HelloReply, evently::amqp::ProduceError> {
    greeted.send(&request.name).await?;
    Ok(HelloReply { message: "remembered".to_owned() })
}

fn main() {
    let _ = App::with_config(evently::Config::default(), Greeting("Hello"));
}
