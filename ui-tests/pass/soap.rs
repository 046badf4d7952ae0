//! SOAP operations sharing a path: with state, with producers, with a
//! `Fault` or any `Display` error.

use evently::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone)]
struct Rates(f64);

evently! {
    state Rates;

    soap "/calculator" Add => add;
    soap "/calculator" Convert => convert;
    soap "/orders" Place + amqp produce "orders" + produce "audit" instantly => place;
}

#[derive(Serialize, Deserialize)]
struct Operands {
    a: i64,
    b: i64,
}

#[derive(Serialize, Deserialize)]
struct Sum {
    result: i64,
}

async fn add(Operands { a, b }: Operands) -> Result<Sum, Fault> {
    a.checked_add(b)
        .map(|result| Sum { result })
        .ok_or_else(|| Fault::client("the sum overflows"))
}

#[derive(Serialize, Deserialize)]
struct Amount {
    value: f64,
    currency: Option<String>,
}

async fn convert(State(rates): State<Rates>, amount: Amount) -> Result<Amount, std::io::Error> {
    Ok(Amount {
        value: amount.value * rates.0,
        currency: amount.currency,
    })
}

#[derive(Serialize, Deserialize)]
struct Place {
    items: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Placed {
    count: u32,
}

async fn place(order: Place, orders: Producer, audit: Producer) -> Result<Placed, Fault> {
    let fail = |_| Fault::server("the order could not be queued");
    audit.send("order placed").await.map_err(fail)?;
    orders.send(&order.items).await.map_err(fail)?;
    Ok(Placed {
        count: order.items.len() as u32,
    })
}

fn main() {}
