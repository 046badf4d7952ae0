//! An `amqp consume` entry that gives its prefetch twice.

use evently::prelude::*;

evently! {
    amqp consume "orders" prefetch 5 attempts 2 prefetch 10 => on_order;
}

async fn on_order(_order: serde_json::Value) {}

fn main() {}
