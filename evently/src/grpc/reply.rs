//! What gRPC handlers return: one reply or a stream of them, and how their
//! errors become a status.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::{Stream, StreamExt};
use prost::Message;
use tonic::Status;

use crate::amqp::Invocation;

/// A boxed stream of replies, each a message or the status that ends it.
pub(crate) type ReplyStream<M> = Pin<Box<dyn Stream<Item = Result<M, Status>> + Send>>;

/// A handler's output, once it is known whether it answers once or streams.
#[doc(hidden)]
pub enum Outcome<M> {
    /// A unary method's reply, or the status it failed with.
    Unary(Result<M, Status>),
    /// A server-streaming method's replies.
    Streaming(ReplyStream<M>),
}

/// The replies of a server-streaming method: each item of the stream is sent
/// as one message when it is yielded.
///
/// An `Err` item ends the call with its status (see [`IntoStatus`]); the end
/// of the stream ends it with `OK`. The stream is polled only when the
/// connection can take more, so a slow client slows it down.
///
/// ```
/// use evently::grpc::{Replies, Status};
/// use evently::prelude::*;
///
/// #[derive(Clone, PartialEq, evently::grpc::Message)]
/// #[prost(prost_path = "::evently::grpc::prost")]
/// struct Tick {
///     #[prost(uint32, tag = "1")]
///     n: u32,
/// }
///
/// async fn ticks(request: Tick) -> Replies<impl Stream<Item = Result<Tick, Status>>> {
///     Replies::new(stream! {
///         for n in 0..request.n {
///             yield Ok(Tick { n });
///         }
///     })
/// }
/// # use evently::Stream;
/// ```
pub struct Replies<S> {
    stream: S,
}

impl<S> Replies<S> {
    /// Replies from a stream of `Result<Reply, E>`.
    pub fn new(stream: S) -> Self {
        Replies { stream }
    }
}

impl<S> fmt::Debug for Replies<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replies").finish_non_exhaustive()
    }
}

/// What a `grpc` handler returns: `Result<Reply, E>` for a unary method,
/// [`Replies`] for a server-streaming one.
#[diagnostic::on_unimplemented(
    message = "a `grpc` handler cannot return `{Self}`",
    label = "not a gRPC reply",
    note = "return `Result<Reply, E>` for a unary method, or `Replies<S>` with \
            `S: Stream<Item = Result<Reply, E>>` for a server-streaming one; `Reply` is a \
            protobuf message and `E` is `Status` or any `Display` error"
)]
pub trait GrpcReply: Send + 'static {
    /// The protobuf message sent back.
    type Message: Message + Send + 'static;

    /// Turns the output into one reply or a stream of them.
    #[doc(hidden)]
    fn into_outcome(self) -> Outcome<Self::Message>;
}

impl<M, E> GrpcReply for Result<M, E>
where
    M: Message + Send + 'static,
    E: IntoStatus,
{
    type Message = M;

    fn into_outcome(self) -> Outcome<M> {
        Outcome::Unary(self.map_err(IntoStatus::into_status))
    }
}

impl<S, M, E> GrpcReply for Replies<S>
where
    S: Stream<Item = Result<M, E>> + Send + 'static,
    M: Message + Send + 'static,
    E: IntoStatus,
{
    type Message = M;

    fn into_outcome(self) -> Outcome<M> {
        let stream = self
            .stream
            .map(|item| item.map_err(IntoStatus::into_status));
        Outcome::Streaming(Box::pin(stream))
    }
}

/// A handler's error, as the status the client gets.
///
/// A [`Status`] is sent as it is, so a handler chooses the code and message
/// with `Status::not_found("no such user")` and the like, or with a
/// `From<MyError> for Status` impl and `?`. Any other error (anything
/// `Display`) is logged with its message, and the client gets `INTERNAL`
/// without it: the message may say more about the service than its clients
/// should know.
pub trait IntoStatus: Send + 'static {
    /// The status for this error.
    fn into_status(self) -> Status;
}

impl<E: fmt::Display + Send + 'static> IntoStatus for E {
    fn into_status(self) -> Status {
        let mut error = Some(self);
        if let Some(status) = (&mut error as &mut dyn Any).downcast_mut::<Option<Status>>() {
            return status.take().expect("the error is taken once");
        }
        let error = error.expect("the error is taken once");
        tracing::error!(error = %error, "gRPC handler failed");
        Status::internal("the handler failed; the service logged why")
    }
}

/// Publishing a call's `once_finished` messages, mapped to the status the
/// client gets when the broker refuses them.
pub(crate) type Finish = Pin<Box<dyn Future<Output = Result<(), Status>> + Send>>;

/// Publishes `invocation`'s `once_finished` messages; a refusal is
/// `UNAVAILABLE`.
pub(crate) fn finish(invocation: Arc<Invocation>) -> Finish {
    Box::pin(async move {
        invocation.flush().await.map_err(|error| {
            tracing::error!(error = %error, "publishing the call's messages failed");
            Status::unavailable("the message broker did not accept this call's messages")
        })
    })
}

/// The replies a call sends: one, or a handler's stream followed by
/// publishing its `once_finished` messages before the final status.
pub(crate) enum ReplyBody<M> {
    One(Option<M>),
    Many(Box<Streamed<M>>),
}

/// A handler's stream on its way out. A panic while it produces a reply ends
/// the call with `INTERNAL`, and the server goes on.
pub(crate) struct Streamed<M> {
    pub(crate) stream: Option<ReplyStream<M>>,
    pub(crate) invocation: Option<Arc<Invocation>>,
    pub(crate) finish: Option<Finish>,
    pub(crate) span: tracing::Span,
}

// A reply is moved out, never pinned in place.
impl<M> Unpin for ReplyBody<M> {}

impl<M> Stream for ReplyBody<M> {
    type Item = Result<M, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.get_mut() {
            ReplyBody::One(reply) => Poll::Ready(reply.take().map(Ok)),
            ReplyBody::Many(streamed) => streamed.poll_next(cx),
        }
    }
}

impl<M> Streamed<M> {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<M, Status>>> {
        if let Some(stream) = self.stream.as_mut() {
            let polled =
                std::panic::catch_unwind(AssertUnwindSafe(|| stream.as_mut().poll_next(cx)));
            match polled {
                Ok(Poll::Pending) => return Poll::Pending,
                Ok(Poll::Ready(Some(Ok(reply)))) => return Poll::Ready(Some(Ok(reply))),
                Ok(Poll::Ready(Some(Err(status)))) => {
                    return Poll::Ready(Some(Err(self.fail(status))));
                }
                Err(panic) => {
                    tracing::error!(parent: &self.span, panic = crate::panics::message(&*panic), "gRPC handler panicked");
                    let status = Status::internal("the handler failed");
                    return Poll::Ready(Some(Err(self.fail(status))));
                }
                // The stream ended: its messages go out before the status.
                Ok(Poll::Ready(None)) => {
                    self.stream = None;
                    self.finish = self.invocation.take().map(finish);
                }
            }
        }
        let Some(finish) = self.finish.as_mut() else {
            return Poll::Ready(None);
        };
        match finish.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(result) => {
                self.finish = None;
                Poll::Ready(result.err().map(Err))
            }
        }
    }

    /// Ends the stream with `status`, dropping its `once_finished` messages.
    fn fail(&mut self, status: Status) -> Status {
        self.stream = None;
        if let Some(invocation) = self.invocation.take() {
            invocation.discard();
        }
        status
    }
}
