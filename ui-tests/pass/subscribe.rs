//! `amqp subscribe` entries: every running instance gets its own queue bound
//! to the exchange, here with a routing key and with a producer.

use evently::amqp::ProduceError;
use evently::prelude::*;
use serde::{Deserialize, Serialize};

evently! {
    amqp subscribe "events" key "chat.#" => on_event;
    amqp subscribe "prices" fanout + produce "cache.updates" => on_price;
}

#[derive(Serialize, Deserialize)]
struct Event {
    room: String,
    text: String,
}

#[derive(Serialize, Deserialize)]
struct Price {
    item: String,
    cents: u64,
}

async fn on_event(event: Message<Event>) -> Result<(), ProduceError> {
    let _ = (&event.body().room, &event.body().text, event.message_id());
    Ok(())
}

async fn on_price(price: Price, updates: Producer) -> Result<(), ProduceError> {
    updates.send(&price).await
}

fn main() {
    let _ = App::from_env();
}
