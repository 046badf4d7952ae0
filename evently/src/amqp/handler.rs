//! Plain async functions as AMQP consumers.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::Producer;
use super::envelope::{Envelope, HeaderValue};
use crate::http::State;
use crate::state::HasState;

/// A delivery on its way into a handler.
#[derive(Debug)]
pub struct MessageParts {
    pub(crate) envelope: Envelope,
    pub(crate) redelivered: bool,
}

/// Why a message could not be decoded into what the handler takes.
#[derive(Debug)]
pub struct DecodeError(String);

impl DecodeError {
    /// A decoding failure with its reason.
    pub fn new(reason: impl Into<String>) -> Self {
        DecodeError(reason.into())
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

/// A value built from a delivery before the handler runs: the decoded JSON
/// body (any `DeserializeOwned` type), a [`Message`], or `State<T>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be taken from an AMQP message",
    label = "not a message extractor",
    note = "an `amqp consume` handler takes the decoded message (a type that implements \
            `Deserialize`), `Message<T>`, or `State<T>`, then one `Producer` per `produce`"
)]
pub trait FromMessage<S>: Sized {
    /// Builds the value, or refuses the message, which is then dead-lettered.
    ///
    /// # Errors
    ///
    /// When the message does not decode.
    fn from_message(message: &MessageParts, state: &S) -> Result<Self, DecodeError>;

    /// Tells the service's AsyncAPI document what this parameter decodes.
    #[doc(hidden)]
    fn describe(_describe: &mut crate::openapi::Describe) {}
}

impl<S, T: DeserializeOwned> FromMessage<S> for T {
    fn from_message(message: &MessageParts, _state: &S) -> Result<Self, DecodeError> {
        decode(&message.envelope.payload)
    }

    fn describe(describe: &mut crate::openapi::Describe) {
        describe.message::<T>();
    }
}

fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, DecodeError> {
    // Most messages decode; only a failure pays for tracking the field path,
    // by decoding a second time.
    if let Ok(value) = serde_json::from_slice(payload) {
        return Ok(value);
    }
    let mut deserializer = serde_json::Deserializer::from_slice(payload);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        if path == "." {
            DecodeError(error.into_inner().to_string())
        } else {
            DecodeError(format!("field `{path}`: {}", error.into_inner()))
        }
    })?;
    deserializer.end().map_err(|e| DecodeError(e.to_string()))?;
    Ok(value)
}

impl<S: HasState<T>, T: Clone> FromMessage<S> for State<T> {
    fn from_message(_message: &MessageParts, state: &S) -> Result<Self, DecodeError> {
        Ok(State(state.state().clone()))
    }
}

/// A decoded message with its properties.
#[derive(Debug)]
pub struct Message<T = serde_json::Value> {
    body: T,
    envelope: Envelope,
    redelivered: bool,
}

impl<S, T: DeserializeOwned> FromMessage<S> for Message<T> {
    fn from_message(message: &MessageParts, _state: &S) -> Result<Self, DecodeError> {
        Ok(Message {
            body: decode(&message.envelope.payload)?,
            envelope: message.envelope.clone(),
            redelivered: message.redelivered,
        })
    }

    fn describe(describe: &mut crate::openapi::Describe) {
        describe.message::<T>();
    }
}

impl<T> Message<T> {
    /// The decoded body.
    pub fn body(&self) -> &T {
        &self.body
    }

    /// The decoded body, by value.
    pub fn into_body(self) -> T {
        self.body
    }

    /// The raw payload.
    pub fn payload(&self) -> &[u8] {
        &self.envelope.payload
    }

    /// The message id, when the publisher set one.
    pub fn message_id(&self) -> Option<&str> {
        self.envelope.message_id.as_deref()
    }

    /// The correlation id, when the publisher set one.
    pub fn correlation_id(&self) -> Option<&str> {
        self.envelope.correlation_id.as_deref()
    }

    /// A header, as text.
    pub fn header(&self, name: &str) -> Option<String> {
        match self.envelope.headers.get(name)? {
            HeaderValue::Text(text) => Some(text.clone()),
            HeaderValue::Int(n) => Some(n.to_string()),
        }
    }

    /// Whether the broker delivered this message before.
    pub fn redelivered(&self) -> bool {
        self.redelivered
    }
}

/// What an AMQP handler returns: `()`, or a `Result` whose error retries the
/// message.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned by an AMQP handler",
    label = "not a handler result",
    note = "return `()`, or `Result<T, E>` where `E: Display`; an `Err` retries the message"
)]
pub trait HandlerResult {
    /// `Err` with the reason when the handler failed.
    ///
    /// # Errors
    ///
    /// When the handler failed.
    fn into_result(self) -> Result<(), String>;
}

impl HandlerResult for () {
    fn into_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl<T, E: fmt::Display> HandlerResult for Result<T, E> {
    fn into_result(self) -> Result<(), String> {
        self.map(drop).map_err(|e| e.to_string())
    }
}

/// A handler's run, settling to its result.
pub(crate) type AmqpFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// An `async fn` that can consume from an `amqp consume` binding with `P`
/// `produce` resources.
///
/// Implemented for every `async fn` whose parameters are up to eight
/// [`FromMessage`] values followed by exactly `P` [`Producer`]s, returning
/// `()` or a `Result`.
#[diagnostic::on_unimplemented(
    message = "this handler does not fit an `amqp consume` binding: expected an `async fn` \
               taking the message, then {P} `Producer` parameter(s), and returning `()` or \
               `Result<(), E>`",
    label = "its parameters, output or future do not fit the binding",
    note = "the parameters are the decoded message (a `Deserialize` type, or `Message<T>` to \
            read its properties too) and `State<T>` values with `state T;` in the block, then \
            one `Producer` per `produce` resource, in binding order; HTTP extractors such as \
            `Json<T>` do not apply",
    note = "the output is `()`, or `Result<(), E>` with `E: Display`: an `Err` retries the \
            message",
    note = "the future must be `Send`: hold no `Rc` or other `!Send` value across an `.await`"
)]
pub trait AmqpHandler<Args, S, const P: usize>: Clone + Send + Sync + 'static {
    /// Decodes the message and starts the handler.
    ///
    /// # Errors
    ///
    /// When the message does not decode.
    fn call(
        &self,
        message: &MessageParts,
        state: &S,
        producers: [Producer; P],
    ) -> Result<AmqpFuture, DecodeError>;

    /// Tells the AsyncAPI document what the handler decodes.
    #[doc(hidden)]
    fn describe(describe: &mut crate::openapi::Describe);
}

macro_rules! impl_amqp_handler {
    ([$($ty:ident),*], [$($p:ident),*], $count:literal) => {
        #[allow(non_snake_case, unused_variables)]
        impl<F, Fut, R, S, $($ty,)*> AmqpHandler<($($ty,)*), S, $count> for F
        where
            F: Fn($($ty,)* $(producer_type!($p)),*) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = R> + Send + 'static,
            R: HandlerResult,
            $($ty: FromMessage<S> + Send + 'static,)*
        {
            fn call(
                &self,
                message: &MessageParts,
                state: &S,
                producers: [Producer; $count],
            ) -> Result<AmqpFuture, DecodeError> {
                $(let $ty = $ty::from_message(message, state)?;)*
                let [$($p),*] = producers;
                let future = (self)($($ty,)* $($p),*);
                Ok(Box::pin(async move { future.await.into_result() }))
            }

            fn describe(describe: &mut crate::openapi::Describe) {
                $(<$ty as FromMessage<S>>::describe(describe);)*
            }
        }
    };
}

with_arities!(impl_amqp_handler);

/// A handler with its state bound.
pub(crate) type BoxedAmqpHandler = Arc<
    dyn Fn(&MessageParts, &Arc<super::producer::Invocation>) -> Result<AmqpFuture, DecodeError>
        + Send
        + Sync,
>;
