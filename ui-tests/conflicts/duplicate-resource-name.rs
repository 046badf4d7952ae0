//! Two producers of one binding that share a name.

use evently::prelude::*;

evently! {
    rest POST "/orders" + produce "orders" as out + produce "audit" as out => create_order;
}

fn main() {}
