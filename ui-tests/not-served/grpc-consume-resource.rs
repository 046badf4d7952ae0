//! A `consume` resource on a gRPC entry: only `ws` sessions consume.

use evently::prelude::*;

evently! {
    grpc "chat.Room/Join" + amqp consume "chat" => join;
}

fn main() {}
