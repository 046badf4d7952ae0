//! The same queue consumed by two bindings.

use evently::prelude::*;

evently! {
    amqp consume "orders" => on_order;
    amqp consume "orders" => audit_order;
}

fn main() {}
