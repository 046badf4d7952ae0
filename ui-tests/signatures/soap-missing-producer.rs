//! A SOAP handler without the `Producer` its `produce` resource hands it.

use evently::prelude::*;
use serde::{Deserialize, Serialize};

evently! {
    soap "/orders" Place + amqp produce "orders" => place;
}

#[derive(Deserialize)]
struct Place {
    item: String,
}

#[derive(Serialize, Deserialize)]
struct PlaceResponse {
    accepted: bool,
}

async fn place(request: Place) -> Result<PlaceResponse, Fault> {
    Ok(PlaceResponse {
        accepted: !request.item.is_empty(),
    })
}

fn main() {}
