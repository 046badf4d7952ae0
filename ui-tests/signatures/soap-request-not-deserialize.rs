//! A SOAP handler whose request type cannot be decoded from XML.

use evently::prelude::*;
use serde::{Deserialize, Serialize};

evently! {
    soap "/calculator" Add => add;
}

struct Add {
    a: i64,
    b: i64,
}

#[derive(Serialize, Deserialize)]
struct AddResponse {
    result: i64,
}

async fn add(request: Add) -> Result<AddResponse, Fault> {
    Ok(AddResponse {
        result: request.a + request.b,
    })
}

fn main() {}
