//! A binding whose handler function does not exist.

use evently::prelude::*;

evently! {
    http GET "/" => index;
}

async fn home() -> &'static str {
    "hello"
}

fn main() {}
