//! An `amqp consume` handler taking `Json<T>`, an HTTP extractor, instead of `T`.

use evently::prelude::*;
use serde::Deserialize;

evently! {
    amqp consume "orders" => on_order;
}

#[derive(Deserialize)]
struct Order {
    item: String,
}

async fn on_order(Json(order): Json<Order>) {
    let _ = order.item;
}

fn main() {}
