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
use crate::amqp::{Broker, Invocation, Producer, Subscription};
use crate::app::BindContext;
use crate::http::{BoxedHandler, FromRequest, Problem, RequestParts, ResponseFuture};
use crate::topology::Resource;

/// What a `ws` handler returns: `()`, or a `Result` whose error is logged.
#[diagnostic::on_unimplemented(
    message = "a `ws` handler cannot return `{Self}`",
    label = "not a WebSocket handler result",
    note = "return `()`, or `Result<(), E>` with `E: Display`"
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

/// A session waiting for its socket and resources.
#[doc(hidden)]
pub type Session<Res> = Box<dyn FnOnce(WebSocket, Res) -> SessionFuture + Send>;

/// What a session's resources are opened with.
#[doc(hidden)]
pub struct SessionContext {
    broker: Option<Broker>,
    invocation: Option<Arc<Invocation>>,
    prefetch: u16,
}

/// A resource handed to a `ws` handler: a [`Producer`] for `produce`, a
/// [`Subscription`] for `consume` and `subscribe`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a resource of a `ws` binding",
    label = "expected `Producer` or `Subscription`",
    note = "a `ws` handler takes one `Producer` per `produce` resource and one `Subscription` \
            per `consume` or `subscribe` resource, in binding order"
)]
pub trait SessionResource: Sized + Send + 'static {
    /// Opens the resource for one session.
    fn open(
        resource: &'static Resource,
        session: &SessionContext,
    ) -> impl Future<Output = Result<Self, String>> + Send;
}

impl SessionResource for Producer {
    async fn open(resource: &'static Resource, session: &SessionContext) -> Result<Self, String> {
        let invocation = session.invocation.as_ref().ok_or("no broker")?;
        Ok(invocation.producer(resource))
    }
}

impl SessionResource for Subscription {
    async fn open(resource: &'static Resource, session: &SessionContext) -> Result<Self, String> {
        let Resource::Source(source) = resource else {
            unreachable!("the generated code asks for subscriptions at source positions");
        };
        let broker = session.broker.as_ref().ok_or("no broker")?;
        let consumer = match (source.queue(), source.exchange()) {
            (Some(queue), _) => broker.consume(queue, session.prefetch).await,
            (None, Some(exchange)) => {
                broker
                    .subscribe(exchange.name(), exchange.key(), session.prefetch)
                    .await
            }
            (None, None) => unreachable!("a source names a queue or an exchange"),
        };
        consumer.map(Subscription::new).map_err(|e| e.to_string())
    }
}

/// The resources of a `ws` binding, as a tuple in binding order.
#[doc(hidden)]
pub trait SessionResources: Sized + Send + 'static {
    /// Opens every resource for one session.
    fn open_all(
        resources: &'static [Resource],
        session: &SessionContext,
    ) -> impl Future<Output = Result<Self, String>> + Send;
}

macro_rules! impl_session_resources {
    ($($r:ident),*) => {
        #[allow(non_snake_case, unused_variables, unused_mut, unused_assignments)]
        impl<$($r: SessionResource,)*> SessionResources for ($($r,)*) {
            async fn open_all(
                resources: &'static [Resource],
                session: &SessionContext,
            ) -> Result<Self, String> {
                let mut index = 0;
                $(
                    let $r = $r::open(&resources[index], session).await?;
                    index += 1;
                )*
                Ok(($($r,)*))
            }
        }
    };
}

impl_session_resources!();
impl_session_resources!(R1);
impl_session_resources!(R1, R2);
impl_session_resources!(R1, R2, R3);
impl_session_resources!(R1, R2, R3, R4);

/// An `async fn` that can serve a `ws` binding whose resources are `Res`.
///
/// Implemented for every `async fn` whose parameters are up to eight
/// extractors that do not read the body (they run before the upgrade, and
/// one that refuses answers with an HTTP error), then the [`WebSocket`],
/// then the binding's resources in order: a [`Producer`] per `produce`, a
/// [`Subscription`] per `consume` or `subscribe`. It returns `()` or a
/// `Result`.
#[diagnostic::on_unimplemented(
    message = "this handler does not fit a `ws` binding: expected an `async fn` taking \
               extractors, then the `WebSocket`, then the resources `{Res}`, and returning `()` \
               or `Result<(), E>`",
    label = "its parameters, output or future do not fit the binding",
    note = "the extractors run before the upgrade and read no body: `Path<T>`, `Query<T>`, \
            `State<T>` with `state T;` in the block, `HeaderMap`, `Method`, `Uri`, or a type \
            implementing `FromRequest`; then come the `WebSocket` and the resources in binding \
            order, a `Producer` per `produce` and a `Subscription` per `consume` or `subscribe`",
    note = "the output is `()`, or `Result<(), E>` with `E: Display`",
    note = "the future must be `Send`: hold no `Rc` or other `!Send` value across an `.await`"
)]
pub trait WsHandler<Args, S, Res>: Clone + Send + Sync + 'static {
    /// Runs the extractors, and returns the session to run on the upgraded
    /// connection.
    fn call(
        &self,
        req: &mut RequestParts,
        state: &Arc<S>,
    ) -> impl Future<Output = Result<Session<Res>, Problem>> + Send;
}

macro_rules! impl_ws_handler {
    ([$($ty:ident),*], [$($p:ident),*], $count:literal) => {
        #[allow(non_snake_case, non_camel_case_types, unused_variables)]
        impl<F, Fut, R, S, $($ty,)* $($p,)*> WsHandler<($($ty,)*), S, ($($p,)*)> for F
        where
            F: Fn($($ty,)* WebSocket, $($p),*) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = R> + Send + 'static,
            R: WsResult,
            S: Send + Sync + 'static,
            $($ty: FromRequest<S> + Send + 'static,)*
            $($p: SessionResource,)*
        {
            async fn call(
                &self,
                req: &mut RequestParts,
                state: &Arc<S>,
            ) -> Result<Session<($($p,)*)>, Problem> {
                const {
                    let readers = 0 $(+ <$ty as FromRequest<S>>::READS_BODY as usize)*;
                    assert!(
                        readers == 0,
                        "a `ws` handler's extractors run before the upgrade and cannot read a body"
                    );
                }
                $(let $ty = $ty::from_request(req, state).await?;)*
                let handler = self.clone();
                Ok(Box::new(move |socket: WebSocket, resources: ($($p,)*)| {
                    let ($($p,)*) = resources;
                    let future = handler($($ty,)* socket, $($p),*);
                    Box::pin(async move { future.await.into_result() }) as SessionFuture
                }))
            }
        }
    };
}

with_arities!(impl_ws_handler);

/// Checks that `handler` fits a `ws` binding with resources `Res` and erases
/// its type.
pub(crate) fn unbound<H, Args, S, Res>(handler: H) -> crate::http::UnboundHandler<S>
where
    H: WsHandler<Args, S, Res>,
    S: Send + Sync + 'static,
    Res: SessionResources,
{
    Box::new(move |state: Arc<S>, context: BindContext| -> BoxedHandler {
        let BindContext {
            resources,
            broker,
            ws: hub,
            prefetch,
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

                // Resources open before the upgrade, so a client learns at
                // once that the broker is unavailable.
                let correlation_id = crate::http::correlation_id(&req);
                let context = SessionContext {
                    invocation: broker.clone().map(|b| Invocation::new(b, correlation_id)),
                    broker,
                    prefetch,
                };
                let opened = match Res::open_all(resources, &context).await {
                    Ok(opened) => opened,
                    Err(error) => {
                        tracing::error!(error, "the session's resources could not be opened");
                        let problem = Problem::new(
                            http::StatusCode::SERVICE_UNAVAILABLE,
                            "the message broker is unavailable",
                        );
                        return problem.into_response_for(rest);
                    }
                };
                let Some(on_upgrade) = req.head.extensions.remove::<OnUpgrade>() else {
                    let problem = Problem::bad_request("this connection cannot be upgraded");
                    return problem.into_response_for(rest);
                };
                tokio::spawn(run(on_upgrade, hub, session, opened, context.invocation));
                upgrade::switching(accept)
            })
        })
    })
}

/// How much a session reads from its connection at once.
///
/// tungstenite zero-fills the free part of its read buffer before every
/// read, so the buffer's size is paid on each read, and stays resident for
/// every open socket, idle or not. tungstenite's default of 128 KiB made
/// that most of the CPU time of an echo and of the memory of an idle
/// connection; a larger message still gets room for all of it, only read in
/// more calls.
const READ_BUFFER: usize = 8 * 1024;

/// One session, from the upgrade to the last message.
async fn run<Res>(
    on_upgrade: OnUpgrade,
    hub: Arc<Hub>,
    session: Session<Res>,
    resources: Res,
    invocation: Option<Arc<Invocation>>,
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
        .read_buffer_size(READ_BUFFER)
        .max_message_size(Some(hub.max_message))
        .max_frame_size(Some(hub.max_message))
        .max_write_buffer_size(hub.max_write_buffer);
    let stream =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config));
    let socket = WebSocket::new(stream.await, hub.shutdown.clone());

    let outcome = AssertUnwindSafe(session(socket, resources))
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
