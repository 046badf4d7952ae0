//! An `amqp consume` handler returning a value, which a message cannot be answered with.

use evently::prelude::*;
use serde::Deserialize;

evently! {
    amqp consume "orders" => on_order;
}

#[derive(Deserialize)]
struct Order {
    item: String,
}

async fn on_order(order: Order) -> String {
    order.item
}

fn main() {}
