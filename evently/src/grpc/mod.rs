//! gRPC: unary and server-streaming methods with protobuf messages, served
//! on the HTTP listener over HTTP/2.
//!
//! A `grpc "package.Service/Method"` binding is a `POST` route at
//! `/package.Service/Method`. Its handler takes the request message, then
//! extractors that read no body (`State<T>`, `HeaderMap`), then one
//! [`Producer`] per `produce` resource, and returns
//! `Result<Reply, E>` (unary) or [`Replies`] (server-streaming).
//!
//! Framing, status trailers and message decoding are `tonic`'s
//! ([`tonic::server::Grpc`] with `tonic-prost`'s codec), so what a stock gRPC
//! client sends is read as it expects. Messages are `prost` types: derive
//! them from the `.proto` by hand with [`Message`], or generate them with
//! `prost-build`.
//!
//! What a client gets:
//!
//! | the call | the status |
//! |---|---|
//! | the handler returned `Ok` / its stream ended | `OK` |
//! | the handler returned a [`Status`] | that status |
//! | the handler returned another error | `INTERNAL`, the error logged |
//! | the handler panicked | `INTERNAL`, logged; the server goes on |
//! | the broker refused its `once_finished` messages | `UNAVAILABLE` |
//! | a message that is not valid protobuf, a truncated frame, a compressed frame without `grpc-encoding` | `INTERNAL` |
//! | a `grpc-encoding` (compression) that is not supported | `UNIMPLEMENTED` |
//! | a message over the body limit (`EVENTLY_HTTP_BODY_LIMIT`) | `RESOURCE_EXHAUSTED` |
//! | a method no binding serves | `UNIMPLEMENTED` |
//! | an extractor's refusal | by its HTTP status: 400 `INVALID_ARGUMENT`, 401 `UNAUTHENTICATED`, 403 `PERMISSION_DENIED`, 404 `NOT_FOUND`, … |
//!
//! A request whose `content-type` is not `application/grpc` gets HTTP 415,
//! as the gRPC protocol asks.
//!
//! A block with `grpc` entries also serves the standard health service,
//! `grpc.health.v1.Health/Check`: `SERVING` while the service is ready,
//! `NOT_SERVING` while it is not (its broker is away), `NOT_FOUND` for a
//! service it does not serve.

mod handler;
pub(crate) mod health;
mod reply;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::FutureExt;
use http::header;
use tonic::server::ServerStreamingService;
use tonic_prost::ProstCodec;

pub use handler::GrpcHandler;
pub use prost::{self, Message};
pub use reply::{GrpcReply, IntoStatus, Replies};
pub use tonic::{Code, Status};

#[doc(hidden)]
pub use handler::{Call, OutcomeFuture};
#[doc(hidden)]
pub use reply::Outcome;

use self::reply::{ReplyBody, Streamed, finish};
use crate::amqp::{Invocation, Producer};
use crate::app::BindContext;
use crate::http::{
    Body, BoxedHandler, IntoResponse, Problem, RequestParts, Response, ResponseFuture,
    UnboundHandler,
};

/// Checks that `handler` fits a `grpc` binding with `P` producers and erases
/// its type.
pub(crate) fn unbound<H, Args, S, const P: usize>(handler: H) -> UnboundHandler<S>
where
    H: GrpcHandler<Args, S, P>,
    S: Send + Sync + 'static,
{
    Box::new(move |state: Arc<S>, context: BindContext| -> BoxedHandler {
        let resources = context.resources;
        let broker = context.broker.filter(|_| P > 0);
        if broker.is_some() {
            assert_eq!(resources.len(), P, "one producer per resource");
        }
        Arc::new(move |mut req: RequestParts, _rest| -> ResponseFuture {
            let handler = handler.clone();
            let state = Arc::clone(&state);
            let broker = broker.clone();
            Box::pin(async move {
                if !is_grpc(&req.head.headers) {
                    let problem = Problem::new(
                        http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "a gRPC method takes `content-type: application/grpc`",
                    );
                    return problem.into_response();
                }
                let span = tracing::Span::current();

                // The extractors run before the message is read; a refusal
                // or a panic answers with a status at once.
                let prepared = AssertUnwindSafe(handler.prepare(&mut req, &state))
                    .catch_unwind()
                    .await;
                let call = match prepared {
                    Ok(Ok(call)) => call,
                    Ok(Err(status)) => return status.into_http(),
                    Err(panic) => {
                        tracing::error!(
                            panic = crate::panics::message(&*panic),
                            "gRPC handler panicked"
                        );
                        return tonic::Status::internal("the handler failed").into_http();
                    }
                };
                drop(state);

                let invocation =
                    broker.map(|broker| Invocation::new(broker, crate::http::correlation_id(&req)));
                let producers = match &invocation {
                    Some(invocation) => std::array::from_fn(|i| invocation.producer(&resources[i])),
                    None => no_producers(),
                };
                let limit = req.body_limit;
                let Some(body) = req.body.take() else {
                    return tonic::Status::internal("the request was already read").into_http();
                };
                let request = http::Request::from_parts(req.head, body);
                let mut method = Method {
                    call: Some((call, producers)),
                    invocation,
                    span,
                };

                // tonic reads the frame, decodes the message and writes the
                // replies and the status trailers.
                let codec = ProstCodec::<H::Reply, H::Request>::default();
                let mut grpc = tonic::server::Grpc::new(codec).max_decoding_message_size(limit);
                let mut response = grpc.server_streaming(&mut method, request).await;
                if method.call.is_some() {
                    // tonic refused the request before the handler ran.
                    over_the_limit(&mut response);
                }
                response.map(Body::new)
            })
        })
    })
}

/// One call of a method: the handler, once, with its producers.
struct Method<Req, Rep, const P: usize> {
    call: Option<(Call<Req, Rep, P>, [Producer; P])>,
    invocation: Option<Arc<Invocation>>,
    span: tracing::Span,
}

type MethodFuture<Rep> =
    Pin<Box<dyn Future<Output = Result<tonic::Response<ReplyBody<Rep>>, tonic::Status>> + Send>>;

impl<Req, Rep, const P: usize> ServerStreamingService<Req> for &mut Method<Req, Rep, P>
where
    Req: Send + 'static,
    Rep: Send + 'static,
{
    type Response = Rep;
    type ResponseStream = ReplyBody<Rep>;
    type Future = MethodFuture<Rep>;

    fn call(&mut self, request: tonic::Request<Req>) -> Self::Future {
        let (call, producers) = self
            .call
            .take()
            .expect("a method is called once per request");
        let invocation = self.invocation.take();
        let span = self.span.clone();
        Box::pin(async move {
            let message = request.into_inner();
            let outcome = AssertUnwindSafe(async move { call(message, producers).await })
                .catch_unwind()
                .await;
            let outcome = match outcome {
                Ok(outcome) => outcome,
                Err(panic) => {
                    tracing::error!(
                        panic = crate::panics::message(&*panic),
                        "gRPC handler panicked"
                    );
                    if let Some(invocation) = &invocation {
                        invocation.discard();
                    }
                    return Err(tonic::Status::internal("the handler failed"));
                }
            };
            let body = match outcome {
                Outcome::Unary(Ok(reply)) => {
                    // `once_finished` messages go out before the reply, so
                    // a client that got `OK` knows they were confirmed.
                    if let Some(invocation) = invocation {
                        finish(invocation).await?;
                    }
                    ReplyBody::One(Some(reply))
                }
                Outcome::Unary(Err(status)) => {
                    if let Some(invocation) = &invocation {
                        invocation.discard();
                    }
                    return Err(status);
                }
                Outcome::Streaming(stream) => ReplyBody::Many(Box::new(Streamed {
                    stream: Some(stream),
                    invocation,
                    finish: None,
                    span,
                })),
            };
            Ok(tonic::Response::new(body))
        })
    }
}

/// tonic refuses a message over the limit with `OUT_OF_RANGE`; gRPC asks
/// for `RESOURCE_EXHAUSTED`, which is what clients retry or report as "too
/// large". Only a refusal made before the handler ran is rewritten, so a
/// handler's own `OUT_OF_RANGE` reaches the client as it is.
fn over_the_limit(response: &mut http::Response<tonic::body::Body>) {
    let headers = response.headers_mut();
    let out_of_range = (tonic::Code::OutOfRange as i32).to_string();
    if headers
        .get("grpc-status")
        .is_some_and(|code| code.as_bytes() == out_of_range.as_bytes())
    {
        let exhausted = (tonic::Code::ResourceExhausted as i32).to_string();
        headers.insert(
            "grpc-status",
            http::HeaderValue::from_str(&exhausted).expect("a number is a header value"),
        );
    }
}

/// `[Producer; P]` for a handler that has no producers (`P` is 0 whenever
/// there is no broker).
fn no_producers<const P: usize>() -> [Producer; P] {
    std::array::from_fn(|_| unreachable!("a binding with producers always has a broker"))
}

/// Whether a request is a gRPC call: `application/grpc`, alone or with a
/// `+format` suffix.
pub(crate) fn is_grpc(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.strip_prefix("application/grpc")
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['+', ';']))
        })
}

/// The answer to a gRPC call of a method no binding serves: HTTP 200 with
/// `UNIMPLEMENTED`, as gRPC clients expect.
pub(crate) fn unimplemented(path: &str) -> Response {
    tonic::Status::unimplemented(format!("no gRPC method is served at `{path}`")).into_http()
}
