//! A handler without the `Producer` parameter its `produce` resource hands it.

use evently::prelude::*;
use serde::Deserialize;

evently! {
    rest POST "/orders" + amqp produce "orders" => place_order;
}

#[derive(Deserialize)]
struct Order {
    item: String,
}

async fn place_order(Json(order): Json<Order>) -> String {
    order.item
}

fn main() {}
