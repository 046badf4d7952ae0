//! A SOAP handler returning a plain `String` instead of a response type.

use evently::prelude::*;
use serde::Deserialize;

evently! {
    soap "/calculator" Add => add;
}

#[derive(Deserialize)]
struct Add {
    a: i64,
    b: i64,
}

async fn add(request: Add) -> String {
    (request.a + request.b).to_string()
}

fn main() {}
