//! An `amqp subscribe` entry, which this version does not serve yet.

use evently::prelude::*;

evently! {
    amqp subscribe "events" key "chat.#" => on_event;
}

fn main() {}
