//! A handler that is a plain `fn`, not an `async fn`.

use evently::prelude::*;

evently! {
    http GET "/" => index;
}

fn index() -> &'static str {
    "hello"
}

fn main() {}
