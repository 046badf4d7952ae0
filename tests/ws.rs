//! WebSockets over real sockets with a real client.

use std::time::Duration;

use evently::http::{FromRequest, Problem, RequestParts};
use evently::prelude::*;
use evently::{Config, Running};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WireError, Message as Wire};

evently! {
    ws "/echo" => echo;
    ws "/secret" => secret;
    ws "/rooms/{room}" => room;
}

async fn echo(mut socket: WebSocket) {
    while let Some(message) = socket.recv().await {
        if socket.send(message).await.is_err() {
            break;
        }
    }
}

/// Refuses the upgrade without the right token.
struct Token;

impl<S: Sync> FromRequest<S> for Token {
    async fn from_request(req: &mut RequestParts, _state: &S) -> Result<Self, Problem> {
        match req.head().headers.get("x-token") {
            Some(token) if token == "let-me-in" => Ok(Token),
            _ => Err(Problem::new(
                StatusCode::UNAUTHORIZED,
                "a token is required",
            )),
        }
    }
}

async fn secret(_token: Token, mut socket: WebSocket) -> Result<(), evently::ws::WsError> {
    socket.send("welcome").await
}

async fn room(Path(room): Path<String>, mut socket: WebSocket) -> Result<(), evently::ws::WsError> {
    socket
        .send_json(&serde_json::json!({ "room": room }))
        .await?;
    // Stay open until the client or the service closes.
    while socket.recv().await.is_some() {}
    Ok(())
}

async fn start() -> (Running, String) {
    let config = Config::default()
        .http_addr(([127, 0, 0, 1], 0).into())
        .ws_max_message(1024)
        .ws_origins(["https://good.example"])
        .shutdown_timeout(Duration::from_secs(5));
    let running = App::with_config(config).unwrap().start().await.unwrap();
    let base = format!("ws://{}", running.local_addr());
    (running, base)
}

#[tokio::test]
async fn text_json_and_binary_are_echoed() {
    let (running, base) = start().await;
    let (mut client, response) = tokio_tungstenite::connect_async(format!("{base}/echo"))
        .await
        .unwrap();
    assert_eq!(response.status(), 101);

    client.send(Wire::text("hello")).await.unwrap();
    assert_eq!(client.next().await.unwrap().unwrap(), Wire::text("hello"));

    let json = r#"{"name":"Ada","n":[1,2]}"#;
    client.send(Wire::text(json)).await.unwrap();
    let echoed = client.next().await.unwrap().unwrap();
    let value: serde_json::Value = serde_json::from_str(echoed.to_text().unwrap()).unwrap();
    assert_eq!(value["name"], "Ada");

    client
        .send(Wire::binary(vec![0u8, 1, 2, 255]))
        .await
        .unwrap();
    assert_eq!(
        client.next().await.unwrap().unwrap(),
        Wire::binary(vec![0u8, 1, 2, 255])
    );

    // Pings are answered.
    client.send(Wire::Ping(vec![7].into())).await.unwrap();
    assert_eq!(
        client.next().await.unwrap().unwrap(),
        Wire::Pong(vec![7].into())
    );

    client.close(None).await.unwrap();
    running.shutdown().await;
}

#[tokio::test]
async fn extractors_refuse_before_the_upgrade() {
    let (running, base) = start().await;
    let refused = tokio_tungstenite::connect_async(format!("{base}/secret")).await;
    match refused {
        Err(WireError::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("expected a refusal, got {other:?}"),
    }

    let mut request = format!("{base}/secret").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("x-token", "let-me-in".parse().unwrap());
    let (mut client, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(client.next().await.unwrap().unwrap(), Wire::text("welcome"));
    running.shutdown().await;
}

#[tokio::test]
async fn path_parameters_reach_the_handler() {
    let (running, base) = start().await;
    let (mut client, _) = tokio_tungstenite::connect_async(format!("{base}/rooms/lobby"))
        .await
        .unwrap();
    let greeting = client.next().await.unwrap().unwrap();
    assert_eq!(greeting.to_text().unwrap(), r#"{"room":"lobby"}"#);
    running.shutdown().await;
}

#[tokio::test]
async fn oversized_messages_close_with_1009() {
    let (running, base) = start().await;
    let (mut client, _) = tokio_tungstenite::connect_async(format!("{base}/echo"))
        .await
        .unwrap();
    client.send(Wire::text("a".repeat(4096))).await.unwrap();
    match client.next().await {
        Some(Ok(Wire::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Size),
        other => panic!("expected a 1009 close, got {other:?}"),
    }
    running.shutdown().await;
}

#[tokio::test]
async fn foreign_origins_are_refused() {
    let (running, base) = start().await;
    let mut request = format!("{base}/echo").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(WireError::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("expected 403, got {other:?}"),
    }

    let mut request = format!("{base}/echo").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", "https://good.example".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_ok());
    running.shutdown().await;
}

#[tokio::test]
async fn plain_http_on_a_websocket_path_gets_426() {
    let (running, _) = start().await;
    let url = format!("http://{}/echo", running.local_addr());
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 426);
    running.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_sockets_with_1001() {
    let (running, base) = start().await;
    let (mut client, _) = tokio_tungstenite::connect_async(format!("{base}/rooms/a"))
        .await
        .unwrap();
    client.next().await.unwrap().unwrap();
    let shutdown = tokio::spawn(running.shutdown());
    match tokio::time::timeout(Duration::from_secs(5), client.next()).await {
        Ok(Some(Ok(Wire::Close(Some(frame))))) => assert_eq!(frame.code, CloseCode::Away),
        other => panic!("expected a 1001 close, got {other:?}"),
    }
    drop(client);
    shutdown.await.unwrap();
}

/// The value of a metrics series without labels.
async fn metric(addr: std::net::SocketAddr, series: &str) -> u64 {
    let page = reqwest::get(format!("http://{addr}/_evently/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in\n{page}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn metrics_count_open_sessions() {
    let (running, base) = start().await;
    let addr = running.local_addr();
    let (mut client, _) = tokio_tungstenite::connect_async(format!("{base}/rooms/lobby"))
        .await
        .unwrap();
    // The session runs once its first message is out.
    assert!(client.next().await.unwrap().unwrap().is_text());
    assert_eq!(metric(addr, "evently_ws_sessions_open").await, 1);
    assert_eq!(metric(addr, "evently_ws_sessions_total").await, 1);

    client.close(None).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while metric(addr, "evently_ws_sessions_open").await != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the session never closed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(metric(addr, "evently_ws_sessions_total").await, 1);
    running.shutdown().await;
}
