//! `prefetch` and `attempts` on a WebSocket session's consumer, where they
//! would do nothing: a session takes the service's prefetch and acks what
//! it wrote instead of retrying.

use evently::prelude::*;
use evently::ws::WebSocket;

evently! {
    ws "/feed" + amqp consume "news" prefetch 5 attempts 2 => feed;
}

async fn feed(_socket: WebSocket, _news: evently::amqp::Subscription) {}

fn main() {}
