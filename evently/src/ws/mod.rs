//! WebSockets, on the same listener as HTTP: the upgrade, the socket a
//! handler talks through, and the limits.
//!
//! A `ws` route answers a WebSocket handshake (HTTP/1.1 `GET` with
//! `Upgrade: websocket`) with 101 and hands the upgraded connection to the
//! handler; anything else gets 426. The handler's extractors run before the
//! upgrade, so one that refuses (authentication, say) answers with an HTTP
//! error and no socket is opened. Origins outside the configured allow-list
//! get 403. Messages over the size limit close the socket with 1009; when
//! the service shuts down, every socket is closed with 1001.

mod handler;
mod socket;
mod upgrade;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};

pub use handler::{
    Session, SessionContext, SessionFuture, SessionResource, SessionResources, WsHandler, WsResult,
};
pub use socket::{Message, WebSocket, WsError};

pub(crate) use handler::unbound;

/// What every WebSocket session of a service shares: the limits, the
/// shutdown signal, and the count of open sessions.
pub(crate) struct Hub {
    pub(crate) max_message: usize,
    pub(crate) max_write_buffer: usize,
    pub(crate) origins: Vec<String>,
    pub(crate) shutdown: watch::Receiver<bool>,
    open: AtomicUsize,
    opened: AtomicU64,
    closed: Notify,
}

/// Counts a session as open while it lives.
pub(crate) struct OpenSession(Arc<Hub>);

impl Hub {
    pub(crate) fn new(config: &crate::Config, shutdown: watch::Receiver<bool>) -> Arc<Self> {
        Arc::new(Hub {
            max_message: config.ws_max_message,
            max_write_buffer: config.ws_write_buffer,
            origins: config.ws_origins.clone(),
            shutdown,
            open: AtomicUsize::new(0),
            opened: AtomicU64::new(0),
            closed: Notify::new(),
        })
    }

    pub(crate) fn session(self: &Arc<Self>) -> OpenSession {
        self.open.fetch_add(1, Ordering::SeqCst);
        self.opened.fetch_add(1, Ordering::Relaxed);
        OpenSession(Arc::clone(self))
    }

    /// The number of sessions opened so far.
    pub(crate) fn opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    /// The number of open sessions.
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Waits until every session has closed, at most `deadline`.
    pub(crate) async fn drained(&self, deadline: Duration) {
        let drained = tokio::time::timeout(deadline, async {
            loop {
                let notified = self.closed.notified();
                if self.open() == 0 {
                    return;
                }
                notified.await;
            }
        });
        if drained.await.is_err() {
            tracing::warn!(
                open = self.open(),
                "shutdown deadline passed with WebSockets open"
            );
        }
    }
}

impl Drop for OpenSession {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
        self.0.closed.notify_waiters();
    }
}
