//! `amqp consume` entries and `produce` resources, behind HTTP and AMQP entries.

use evently::amqp::ProduceError;
use evently::prelude::*;
use serde::{Deserialize, Serialize};

evently! {
    state Shop;
    rest POST "/orders" + amqp produce "orders" => place_order;
    amqp consume "orders" prefetch 10
        + produce "invoices"
        + produce exchange "audit" fanout instantly as audit
        => on_order;
    amqp consume "invoices" quorum exchange "billing" key "invoice.*" attempts 5 prefetch 2
        => on_invoice;
}

#[derive(Clone)]
struct Shop {
    name: &'static str,
}

#[derive(Serialize, Deserialize)]
struct Order {
    item: String,
    quantity: u32,
}

async fn place_order(Json(order): Json<Order>, orders: Producer) -> Result<StatusCode, Problem> {
    orders
        .send(&order)
        .await
        .map_err(|e| Problem::internal(e.to_string()))?;
    Ok(StatusCode::ACCEPTED)
}

async fn on_order(
    order: Order,
    State(shop): State<Shop>,
    invoices: Producer,
    audit: Producer,
) -> Result<(), ProduceError> {
    audit.send(&order.item).await?;
    invoices
        .send(&format!("{}: {}", shop.name, order.quantity))
        .await
}

async fn on_invoice(invoice: Message<String>) {
    let _ = (invoice.body(), invoice.message_id());
}

fn main() {
    assert_eq!(App::TOPOLOGY.bindings().len(), 3);
}
