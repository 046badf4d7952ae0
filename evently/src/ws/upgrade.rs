//! The WebSocket handshake, checked before anything runs.

use http::StatusCode;
use http::header::{self, HeaderMap, HeaderValue};
use http::request::Parts;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::Hub;
use crate::http::{Body, Problem, Response};

/// The value of `Sec-WebSocket-Accept` for a valid handshake, or why the
/// request is refused.
pub(super) fn accept(head: &Parts, hub: &Hub) -> Result<HeaderValue, Problem> {
    let headers = &head.headers;
    let upgrade = has_token(headers, header::UPGRADE, "websocket");
    if !(upgrade && has_token(headers, header::CONNECTION, "upgrade")) {
        return Err(Problem::new(
            StatusCode::UPGRADE_REQUIRED,
            "this path speaks WebSocket: send `Connection: upgrade` and `Upgrade: websocket`",
        ));
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v != "13")
    {
        return Err(Problem::bad_request(
            "unsupported WebSocket version, expected 13",
        ));
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return Err(Problem::bad_request(
            "the WebSocket handshake lacks `Sec-WebSocket-Key`",
        ));
    };
    if let Some(origin) = headers.get(header::ORIGIN) {
        let allowed = hub.origins.is_empty()
            || origin
                .to_str()
                .is_ok_and(|o| hub.origins.iter().any(|a| a == o));
        if !allowed {
            tracing::warn!(origin = ?origin, "WebSocket from a foreign origin refused");
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "this origin may not open a WebSocket",
            ));
        }
    }
    let accept = derive_accept_key(key.as_bytes());
    Ok(HeaderValue::from_str(&accept).expect("base64 is a valid header value"))
}

fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .to_str()
            .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

/// `101 Switching Protocols` with the accept key.
pub(super) fn switching(accept: HeaderValue) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    response
}
