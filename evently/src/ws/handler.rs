//! Plain async functions as WebSocket handlers.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use super::{Hub, WebSocket, upgrade};
use crate::amqp::{Invocation, Producer};
use crate::app::BindContext;
use crate::http::{BoxedHandler, FromRequest, Problem, RequestParts, ResponseFuture};

/// What a `ws` handler returns: `()`, or a `Result` whose error is logged.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned by a `ws` handler",
    label = "not a WebSocket handler result",
    note = "return `()` or `Result<(), E>` where `E: Display`"
)]
pub trait WsResult {
    /// `Err` with the reason when the session failed.
    ///
    /// # Errors
    ///
    /// When the handler failed.
    fn into_result(self) -> Result<(), String>;
}

impl WsResult for () {
    fn into_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl<T, E: fmt::Display> WsResult for Result<T, E> {
    fn into_result(self) -> Result<(), String> {
        self.map(drop).map_err(|e| e.to_string())
    }
}

/// A session's run, settling to its result.
#[doc(hidden)]
pub type SessionFuture = std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A session waiting for its socket and producers.
#[doc(hidden)]
pub type Session<const P: usize> =
    Box<dyn FnOnce(WebSocket, [Producer; P]) -> SessionFuture + Send>;

/// An `async fn` that can serve a `ws` binding with `P` `produce` resources.
///
/// Implemented for every `async fn` whose parameters are up to eight
/// extractors that do not read the body (they run before the upgrade, and
/// one that refuses answers with an HTTP error), then the [`WebSocket`],
/// then exactly `P` producers; it returns `()` or a `Result`.
#[diagnostic::on_unimplemented(
    message = "this handler does not fit a `ws` binding: expected an `async fn` taking \
               extractors, then the `WebSocket`, then {P} `Producer` parameter(s), and \
               returning `()` or `Result<(), E>`",
    label = "its parameters, output or future do not fit the binding",
    note = "the extractors run before the upgrade and read no body: `Path<T>`, `Query<T>`, \
            `State<T>` with `state T;` in the block, `HeaderMap`, `Method`, `Uri`, or a type \
            implementing `FromRequest`; then come the `WebSocket` and one `Producer` per \
            `produce` resource, in binding order",
    note = "the output is `()`, or `Result<(), E>` with `E: Display`",
    note = "the future must be `Send`: hold no `Rc` or other `!Send` value across an `.await`"
)]
pub trait WsHandler<Args, S, const P: usize>: Clone + Send + Sync + 'static {
    /// Runs the extractors, then the session on the upgraded connection.
    fn call(
        &self,
        req: &mut RequestParts,
        state: &Arc<S>,
    ) -> impl Future<Output = Result<Session<P>, Problem>> + Send;
}

macro_rules! impl_ws_handler {
    ([$($ty:ident),*], [$($p:ident),*], $count:literal) => {
        #[allow(non_snake_case, unused_variables)]
        impl<F, Fut, R, S, $($ty,)*> WsHandler<($($ty,)*), S, $count> for F
        where
            F: Fn($($ty,)* WebSocket, $(producer_type!($p)),*) -> Fut
                + Clone + Send + Sync + 'static,
            Fut: Future<Output = R> + Send + 'static,
            R: WsResult,
            S: Send + Sync + 'static,
            $($ty: FromRequest<S> + Send + 'static,)*
        {
            async fn call(
                &self,
                req: &mut RequestParts,
                state: &Arc<S>,
            ) -> Result<Session<$count>, Problem> {
                const {
                    let readers = 0 $(+ <$ty as FromRequest<S>>::READS_BODY as usize)*;
                    assert!(
                        readers == 0,
                        "a `ws` handler's extractors run before the upgrade and cannot read a body"
                    );
                }
                $(let $ty = $ty::from_request(req, state).await?;)*
                let handler = self.clone();
                Ok(Box::new(move |socket: WebSocket, producers: [Producer; $count]| {
                    let [$($p),*] = producers;
                    let future = handler($($ty,)* socket, $($p),*);
                    Box::pin(async move { future.await.into_result() }) as SessionFuture
                }))
            }
        }
    };
}

with_arities!(impl_ws_handler);

/// Checks that `handler` fits a `ws` binding with `P` producers and erases
/// its type.
pub(crate) fn unbound<H, Args, S, const P: usize>(handler: H) -> crate::http::UnboundHandler<S>
where
    H: WsHandler<Args, S, P>,
    S: Send + Sync + 'static,
{
    Box::new(move |state: Arc<S>, context: BindContext| -> BoxedHandler {
        let BindContext {
            resources,
            broker,
            ws: hub,
        } = context;
        Arc::new(move |mut req: RequestParts, rest| -> ResponseFuture {
            let handler = handler.clone();
            let state = Arc::clone(&state);
            let hub = Arc::clone(&hub);
            let broker = broker.clone();
            Box::pin(async move {
                let accept = match upgrade::accept(&req.head, &hub) {
                    Ok(accept) => accept,
                    Err(problem) => return problem.into_response_for(rest),
                };
                let session = match handler.call(&mut req, &state).await {
                    Ok(session) => session,
                    Err(problem) => return problem.into_response_for(rest),
                };
                let Some(on_upgrade) = req.head.extensions.remove::<OnUpgrade>() else {
                    let problem = Problem::bad_request("this connection cannot be upgraded");
                    return problem.into_response_for(rest);
                };
                let correlation_id = crate::http::correlation_id(&req);
                tokio::spawn(run(on_upgrade, hub, session, move || {
                    let invocation = broker.map(|broker| Invocation::new(broker, correlation_id));
                    let producers = std::array::from_fn(|i| match &invocation {
                        Some(invocation) => invocation.producer(&resources[i]),
                        None => unreachable!("a binding with producers always has a broker"),
                    });
                    (invocation, producers)
                }));
                upgrade::switching(accept)
            })
        })
    })
}

/// One session, from the upgrade to the last message.
async fn run<const P: usize>(
    on_upgrade: OnUpgrade,
    hub: Arc<Hub>,
    session: Session<P>,
    producers: impl FnOnce() -> (Option<Arc<Invocation>>, [Producer; P]),
) {
    let _open = hub.session();
    let upgraded = match on_upgrade.await {
        Ok(upgraded) => upgraded,
        Err(error) => {
            tracing::debug!(error = %error, "the WebSocket upgrade failed");
            return;
        }
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(hub.max_message))
        .max_frame_size(Some(hub.max_message))
        .max_write_buffer_size(hub.max_write_buffer);
    let stream =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config));
    let socket = WebSocket::new(stream.await, hub.shutdown.clone());
    let (invocation, producers) = producers();

    let outcome = AssertUnwindSafe(session(socket, producers))
        .catch_unwind()
        .await;
    let failure = match outcome {
        Ok(Ok(())) => match &invocation {
            Some(invocation) => invocation.flush().await.err().map(|e| e.to_string()),
            None => None,
        },
        Ok(Err(error)) => Some(error),
        Err(_) => Some("the handler panicked".to_owned()),
    };
    if let Some(reason) = failure {
        if let Some(invocation) = &invocation {
            invocation.discard();
        }
        tracing::error!(reason, "WebSocket session failed");
    }
}
