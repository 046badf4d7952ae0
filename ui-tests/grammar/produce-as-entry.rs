//! A binding that starts with `produce`, which is a resource.

use evently::prelude::*;

evently! {
    produce "orders" => on_order;
}

fn main() {}
