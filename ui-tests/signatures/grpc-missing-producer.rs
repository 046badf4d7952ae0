//! A gRPC handler without the `Producer` its `produce` resource hands it.

use evently::grpc::Status;
use evently::prelude::*;

evently! {
    grpc "shop.Orders/Place" + amqp produce "orders" => place;
}

#[derive(Clone, PartialEq, evently::grpc::Message)]
#[prost(prost_path = "::evently::grpc::prost")]
struct Order {
    #[prost(string, tag = "1")]
    item: String,
}

async fn place(order: Order) -> Result<Order, Status> {
    Ok(order)
}

fn main() {}
