//! A `ws` entry: extractors run before the upgrade, then the session gets the `WebSocket`.

use evently::prelude::*;

evently! {
    ws "/echo" => echo;
    ws "/rooms/{room}" + amqp produce "chat" => chat;
}

async fn echo(mut socket: WebSocket) {
    while let Some(message) = socket.recv().await {
        if socket.send(message).await.is_err() {
            break;
        }
    }
}

async fn chat(
    Path(room): Path<String>,
    mut socket: WebSocket,
    chat: Producer,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    while let Some(message) = socket.recv().await {
        let text = message.as_text().unwrap_or_default().to_owned();
        chat.send(&format!("{room}: {text}")).await?;
    }
    Ok(())
}

fn main() {
    assert_eq!(App::TOPOLOGY.bindings().len(), 2);
}
