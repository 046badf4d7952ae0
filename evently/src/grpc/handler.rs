//! Plain async functions as gRPC handlers.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use prost::Message;
use tonic::{Code, Status};

use super::reply::{GrpcReply, Outcome};
use crate::amqp::Producer;
use crate::http::{FromRequest, Problem, RequestParts};

/// A handler's run, settling to its reply or replies.
#[doc(hidden)]
pub type OutcomeFuture<M> = Pin<Box<dyn Future<Output = Outcome<M>> + Send>>;

/// A call whose extractors ran, waiting for its request message and
/// producers.
#[doc(hidden)]
pub type Call<Req, Rep, const P: usize> =
    Box<dyn FnOnce(Req, [Producer; P]) -> OutcomeFuture<Rep> + Send>;

/// An `async fn` that can serve a `grpc` binding with `P` `produce`
/// resources.
///
/// Implemented for every `async fn` whose parameters are the request
/// message (a [`prost::Message`]), then up to eight extractors that read no
/// body (`State<T>`, `HeaderMap` for the call's metadata, or your own
/// [`FromRequest`] types), then exactly `P` producers, and whose output is a
/// [`GrpcReply`]: `Result<Reply, E>` for a unary method, [`Replies`] for a
/// server-streaming one.
///
/// [`Replies`]: super::Replies
#[diagnostic::on_unimplemented(
    message = "this handler does not fit a `grpc` binding: expected an `async fn` taking the \
               request message, then extractors, then {P} `Producer` parameter(s), and \
               returning `Result<Reply, E>` or `Replies<S>`",
    label = "its parameters, output or future do not fit the binding",
    note = "the first parameter is the request, a protobuf message: a struct with \
            `#[derive(evently::grpc::Message)]` (and \
            `#[prost(prost_path = \"::evently::grpc::prost\")]`), or a `prost`-generated type",
    note = "then come extractors that read no body (`State<T>` with `state T;` in the block, \
            `HeaderMap` for the metadata), then one `Producer` per `produce` resource, in \
            binding order",
    note = "the output is `Result<Reply, E>` for a unary method, or `Replies<S>` with \
            `S: Stream<Item = Result<Reply, E>>` for a server-streaming one; `Reply` is a \
            protobuf message and `E` is `Status` or any `Display` error",
    note = "the future must be `Send`: hold no `Rc` or other `!Send` value across an `.await`"
)]
pub trait GrpcHandler<Args, S, const P: usize>: Clone + Send + Sync + 'static {
    /// The request message.
    type Request: Message + Default + Send + 'static;
    /// The reply message.
    type Reply: Message + Send + 'static;

    /// Runs the extractors, and returns the call to make once the request
    /// message is decoded.
    fn prepare(
        &self,
        req: &mut RequestParts,
        state: &Arc<S>,
    ) -> impl Future<Output = Result<Call<Self::Request, Self::Reply, P>, Status>> + Send;
}

macro_rules! impl_grpc_handler {
    ([$($ty:ident),*], [$($p:ident),*], $count:literal) => {
        #[allow(non_snake_case, unused_variables)]
        impl<F, Fut, R, S, M, $($ty,)*> GrpcHandler<(M, $($ty,)*), S, $count> for F
        where
            F: Fn(M, $($ty,)* $(producer_type!($p)),*) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = R> + Send + 'static,
            R: GrpcReply,
            M: Message + Default + Send + 'static,
            S: Send + Sync + 'static,
            $($ty: FromRequest<S> + Send + 'static,)*
        {
            type Request = M;
            type Reply = R::Message;

            async fn prepare(
                &self,
                req: &mut RequestParts,
                state: &Arc<S>,
            ) -> Result<Call<M, R::Message, $count>, Status> {
                const {
                    let readers = 0 $(+ <$ty as FromRequest<S>>::READS_BODY as usize)*;
                    assert!(
                        readers == 0,
                        "a `grpc` handler's request is its first parameter; its extractors \
                         cannot read the body"
                    );
                }
                $(let $ty = $ty::from_request(req, state).await.map_err(problem_status)?;)*
                let handler = self.clone();
                Ok(Box::new(move |message: M, producers: [Producer; $count]| {
                    let [$($p),*] = producers;
                    let future = handler(message, $($ty,)* $($p),*);
                    Box::pin(async move { future.await.into_outcome() })
                        as OutcomeFuture<R::Message>
                }))
            }
        }
    };
}

with_arities!(impl_grpc_handler);

/// The status for an extractor's refusal, by the meaning of its HTTP status.
fn problem_status(problem: Problem) -> Status {
    let code = match problem.status().as_u16() {
        400 | 415 | 422 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        409 => Code::AlreadyExists,
        413 | 429 => Code::ResourceExhausted,
        501 => Code::Unimplemented,
        503 => Code::Unavailable,
        504 => Code::DeadlineExceeded,
        _ => Code::Internal,
    };
    Status::new(code, problem.detail())
}
