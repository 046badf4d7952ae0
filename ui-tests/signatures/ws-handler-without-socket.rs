//! A `ws` handler without the `WebSocket` parameter.

use evently::prelude::*;

evently! {
    ws "/echo" => echo;
}

async fn echo(Path(room): Path<String>) -> String {
    room
}

fn main() {}
