//! The socket a `ws` handler talks through.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as Wire;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WireError};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

type Stream = WebSocketStream<TokioIo<Upgraded>>;

/// A WebSocket message: text or binary. Pings, pongs and closing are
/// handled for you.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// The text of a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(text) => Some(text),
            Message::Binary(_) => None,
        }
    }

    /// The message decoded as JSON, text or binary alike.
    ///
    /// # Errors
    ///
    /// When the message is not JSON of type `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        match self {
            Message::Text(text) => serde_json::from_str(text),
            Message::Binary(bytes) => serde_json::from_slice(bytes),
        }
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Message::Text(text)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Message::Text(text.to_owned())
    }
}

impl From<Bytes> for Message {
    fn from(bytes: Bytes) -> Self {
        Message::Binary(bytes)
    }
}

impl From<Vec<u8>> for Message {
    fn from(bytes: Vec<u8>) -> Self {
        Message::Binary(bytes.into())
    }
}

/// Why a message could not be sent: the socket is closed or broken.
#[derive(Debug)]
pub struct WsError(String);

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "websocket: {}", self.0)
    }
}

impl std::error::Error for WsError {}

/// One client's WebSocket.
///
/// `recv` returns `None` once the socket is closed: by the client, by a
/// message over the size limit (closed with 1009), by a protocol error, or
/// by the service shutting down (closed with 1001). A socket still open when
/// the handler returns is closed with 1000.
pub struct WebSocket {
    stream: Option<Stream>,
    shutdown: Shutdown,
}

/// The service's shutdown, as one socket watches for it.
///
/// Waiting on the watch afresh in every `recv` registers a waiter and
/// removes it again, under a lock that sockets share, once per message.
/// Instead the waiter is made once and stays registered, polled again only
/// when another task holds the socket, and each `recv` first reads the
/// watch's version, which takes no lock.
struct Shutdown {
    signal: watch::Receiver<bool>,
    waiter: Pin<Box<dyn Future<Output = ()> + Send + Sync>>,
    /// The waker the waiter last registered.
    registered: Option<Waker>,
}

impl Shutdown {
    fn new(signal: watch::Receiver<bool>) -> Self {
        let mut waiting = signal.clone();
        // Out of tokio's budget, so that a pending waiter is always a
        // registered one: out of budget, it would return pending without
        // registering, and `register` would never poll it again.
        let waiter = Box::pin(tokio::task::unconstrained(async move {
            let _ = waiting.wait_for(|stop| *stop).await;
        }));
        Shutdown {
            signal,
            waiter,
            registered: None,
        }
    }

    /// Whether the service is stopping, or gone.
    fn stopping(&self) -> bool {
        // Nothing marks `signal` seen, so it has changed once anything was
        // sent since the service started.
        match self.signal.has_changed() {
            Ok(changed) => changed && *self.signal.borrow(),
            Err(_) => true,
        }
    }

    /// Makes sure the shutdown wakes the task polling with `cx`; ready if
    /// it came meanwhile.
    fn register(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(waker) = &self.registered
            && waker.will_wake(cx.waker())
        {
            // Still registered with this task's waker: the shutdown wakes
            // it, and `stopping` then says so.
            return Poll::Pending;
        }
        self.registered = Some(cx.waker().clone());
        self.waiter.as_mut().poll(cx)
    }
}

impl WebSocket {
    pub(crate) fn new(stream: Stream, shutdown: watch::Receiver<bool>) -> Self {
        WebSocket {
            stream: Some(stream),
            shutdown: Shutdown::new(shutdown),
        }
    }

    /// The next text or binary message, or `None` once the socket closed.
    pub async fn recv(&mut self) -> Option<Message> {
        loop {
            let stream = self.stream.as_mut()?;
            let shutdown = &mut self.shutdown;
            let frame = std::future::poll_fn(|cx| {
                // The shutdown first, so that a client that keeps sending
                // cannot hold it off.
                if shutdown.stopping() {
                    return Poll::Ready(None);
                }
                if let Poll::Ready(frame) = stream.poll_next_unpin(cx) {
                    return Poll::Ready(Some(frame));
                }
                // Nothing to read: wait for the shutdown too.
                shutdown.register(cx).map(|()| None)
            })
            .await;
            let Some(frame) = frame else {
                self.close_with(CloseCode::Away, "the service is shutting down")
                    .await;
                return None;
            };
            match frame {
                Some(Ok(Wire::Text(text))) => return Some(Message::Text(text.as_str().to_owned())),
                Some(Ok(Wire::Binary(bytes))) => return Some(Message::Binary(bytes)),
                // Pongs to pings are queued by the protocol layer and go out
                // with the next read or write.
                Some(Ok(Wire::Ping(_) | Wire::Pong(_) | Wire::Frame(_))) => {}
                Some(Ok(Wire::Close(_))) | None => {
                    // The closing handshake was answered; the client is gone.
                    self.stream = None;
                    return None;
                }
                Some(Err(WireError::Capacity(CapacityError::MessageTooLong {
                    size,
                    max_size,
                }))) => {
                    tracing::warn!(size, max_size, "WebSocket message over the limit, closing");
                    self.close_with(CloseCode::Size, "message too big").await;
                    return None;
                }
                Some(Err(error)) => {
                    tracing::debug!(error = %error, "WebSocket failed");
                    self.close_with(CloseCode::Protocol, "protocol error").await;
                    return None;
                }
            }
        }
    }

    /// The next message decoded as JSON; `None` once the socket closed.
    /// A message that is not JSON of type `T` comes back as an `Err`.
    pub async fn recv_json<T: DeserializeOwned>(&mut self) -> Option<Result<T, serde_json::Error>> {
        self.recv().await.map(|message| message.json())
    }

    /// Sends a message. It waits while the client is slow to read, so a slow
    /// client slows its sender instead of growing a buffer.
    ///
    /// # Errors
    ///
    /// When the socket is closed or broken.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), WsError> {
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| WsError("closed".into()))?;
        let wire = match message.into() {
            Message::Text(text) => Wire::Text(text.into()),
            Message::Binary(bytes) => Wire::Binary(bytes),
        };
        stream.send(wire).await.map_err(|e| WsError(e.to_string()))
    }

    /// Sends `value` as a JSON text message.
    ///
    /// # Errors
    ///
    /// When the value cannot be encoded, or the socket is closed or broken.
    pub async fn send_json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WsError> {
        let text = serde_json::to_string(value).map_err(|e| WsError(e.to_string()))?;
        self.send(Message::Text(text)).await
    }

    /// Sends every item of `stream` as one message each, in order, waiting
    /// for the client to take each before producing the next; stops when
    /// the stream ends or the socket fails.
    ///
    /// # Errors
    ///
    /// When the socket is closed or broken.
    pub async fn send_all<S, M>(&mut self, stream: S) -> Result<(), WsError>
    where
        S: futures_util::Stream<Item = M>,
        M: Into<Message>,
    {
        let mut stream = std::pin::pin!(stream);
        while let Some(message) = stream.next().await {
            self.send(message).await?;
        }
        Ok(())
    }

    /// Closes the socket normally (1000).
    pub async fn close(mut self) {
        self.close_with(CloseCode::Normal, "").await;
    }

    /// Whether the socket was closed.
    pub fn is_closed(&self) -> bool {
        self.stream.is_none()
    }

    async fn close_with(&mut self, code: CloseCode, reason: &'static str) {
        if let Some(mut stream) = self.stream.take() {
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            let _ = stream.close(Some(frame)).await;
        }
    }
}

impl Drop for WebSocket {
    fn drop(&mut self) {
        // The handler returned with the socket open: say goodbye properly.
        if let Some(mut stream) = self.stream.take() {
            tokio::spawn(async move {
                let frame = CloseFrame {
                    code: CloseCode::Normal,
                    reason: "".into(),
                };
                let _ = stream.close(Some(frame)).await;
            });
        }
    }
}

impl fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("open", &self.stream.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Registers the waiter from a task of its own and returns.
    async fn register_elsewhere(mut shutdown: Shutdown) -> Shutdown {
        tokio::spawn(async move {
            std::future::poll_fn(|cx| {
                let _ = shutdown.register(cx);
                Poll::Ready(())
            })
            .await;
            shutdown
        })
        .await
        .unwrap()
    }

    /// Waits as `recv` does when the client sends nothing, in another task
    /// than the one that registered first, as when a handler hands its
    /// socket to a task it spawns; then shuts down.
    async fn woken_by_the_shutdown(spend_budget: bool) {
        let (trigger, signal) = watch::channel(false);
        let mut shutdown = register_elsewhere(Shutdown::new(signal)).await;
        let waiting = tokio::spawn(async move {
            while spend_budget && tokio::task::coop::has_budget_remaining() {
                tokio::task::consume_budget().await;
            }
            std::future::poll_fn(|cx| {
                if shutdown.stopping() {
                    return Poll::Ready(());
                }
                shutdown.register(cx)
            })
            .await;
        });
        tokio::time::sleep(Duration::from_millis(50)).await;

        trigger.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the shutdown wakes the waiting task")
            .unwrap();
    }

    #[tokio::test]
    async fn the_shutdown_wakes_a_socket_that_changed_task() {
        woken_by_the_shutdown(false).await;
    }

    #[tokio::test]
    async fn the_shutdown_wakes_a_socket_that_waits_out_of_budget() {
        woken_by_the_shutdown(true).await;
    }
}
