//! A `state` declaration naming a type that does not exist.

use evently::prelude::*;

evently! {
    state Pool;
    http GET "/" => index;
}

async fn index() -> &'static str {
    "hello"
}

fn main() {}
