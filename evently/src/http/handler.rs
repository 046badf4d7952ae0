//! Plain async functions as HTTP handlers.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::stream::{FinishThen, Streaming};
use super::{BoxError, FromRequest, IntoResponse, Problem, RequestParts, Response};
use crate::amqp::{Invocation, Producer};
use crate::app::BindContext;

/// A boxed response future.
pub(crate) type ResponseFuture = Pin<Box<dyn Future<Output = Response> + Send>>;

/// A handler with its state bound: request in, response future out.
pub(crate) type BoxedHandler = Arc<dyn Fn(RequestParts, bool) -> ResponseFuture + Send + Sync>;

/// An `async fn` that can answer an `http` or `rest` binding with `P`
/// `produce` resources.
///
/// It is implemented for every `async fn` (or closure returning a future)
/// whose parameters are up to eight extractors ([`FromRequest`]), at most one
/// of them reading the body, followed by exactly `P` producers, and whose
/// return type implements [`IntoResponse`]. `Args` is the tuple of extractor
/// types; `S` the block's state.
#[diagnostic::on_unimplemented(
    message = "this handler does not fit an `http` or `rest` binding: expected an `async fn` \
               taking extractors, then {P} `Producer` parameter(s), and returning a response",
    label = "its parameters, output or future do not fit the binding",
    note = "the parameters are extractors (`Json<T>` with `T: Deserialize`, `Path<T>`, \
            `Query<T>`, `State<T>` with `state T;` in the block, `HeaderMap`, `Method`, `Uri`, \
            `String`, `Bytes`, or a type implementing `FromRequest`), then one `Producer` per \
            `produce` resource, in binding order",
    note = "the output must implement `IntoResponse`: `String`, `&'static str`, `Html<T>`, \
            `Json<T>` with `T: Serialize`, `StatusCode`, `(StatusCode, T)`, `Problem`, \
            or a `Result` of those",
    note = "the future must be `Send`: hold no `Rc` or other `!Send` value across an `.await`"
)]
pub trait HttpHandler<Args, S, const P: usize>: Clone + Send + Sync + 'static {
    /// Runs the handler on a request. `rest` says how refusals are sent.
    fn call(
        &self,
        req: RequestParts,
        state: &Arc<S>,
        rest: bool,
        producers: [Producer; P],
    ) -> ResponseFuture;

    /// Tells the OpenAPI document what the handler reads and answers.
    #[doc(hidden)]
    fn describe(describe: &mut crate::openapi::Describe);
}

macro_rules! impl_handler {
    ([$($ty:ident),*], [$($p:ident),*], $count:literal) => {
        #[allow(non_snake_case, unused_mut, unused_variables)]
        impl<F, Fut, R, S, $($ty,)*> HttpHandler<($($ty,)*), S, $count> for F
        where
            F: Fn($($ty,)* $(producer_type!($p)),*) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = R> + Send + 'static,
            R: IntoResponse,
            S: Send + Sync + 'static,
            $($ty: FromRequest<S> + Send + 'static,)*
        {
            fn call(
                &self,
                mut req: RequestParts,
                state: &Arc<S>,
                rest: bool,
                producers: [Producer; $count],
            ) -> ResponseFuture {
                const {
                    let readers = 0 $(+ <$ty as FromRequest<S>>::READS_BODY as usize)*;
                    assert!(
                        readers <= 1,
                        "an `http` or `rest` handler may have one parameter that reads \
                         the request body (`Json<T>`, `String`, `Bytes`), found several"
                    );
                }
                let handler = self.clone();
                let state = Arc::clone(state);
                Box::pin(async move {
                    $(
                        let $ty = match $ty::from_request(&mut req, &state).await {
                            Ok(value) => value,
                            Err(problem) => return problem.into_response_for(rest),
                        };
                    )*
                    drop(state);
                    let [$($p),*] = producers;
                    handler($($ty,)* $($p),*).await.into_response()
                })
            }

            fn describe(describe: &mut crate::openapi::Describe) {
                $(<$ty as FromRequest<S>>::describe(describe);)*
                R::describe(describe);
            }
        }
    };
}

with_arities!(impl_handler);

/// A handler waiting for the state and the rest it will be handed.
pub(crate) type UnboundHandler<S> = Box<dyn FnOnce(Arc<S>, BindContext) -> BoxedHandler + Send>;

/// Checks that `handler` fits an HTTP binding with `P` producers and erases
/// its type.
pub(crate) fn unbound<H, Args, S, const P: usize>(handler: H) -> UnboundHandler<S>
where
    H: HttpHandler<Args, S, P>,
    S: Send + Sync + 'static,
{
    Box::new(move |state: Arc<S>, context: BindContext| -> BoxedHandler {
        let resources = context.resources;
        let Some(broker) = context.broker.filter(|_| P > 0) else {
            return Arc::new(move |req, rest| handler.call(req, &state, rest, no_producers()));
        };
        assert_eq!(resources.len(), P, "one producer per resource");
        Arc::new(move |req: RequestParts, rest| {
            let correlation_id = correlation_id(&req);
            let invocation = Invocation::new(broker.clone(), correlation_id);
            let producers = std::array::from_fn(|i| invocation.producer(&resources[i]));
            let response = handler.call(req, &state, rest, producers);
            Box::pin(async move {
                let response = response.await;

                // `once_finished` messages go out before the response, and
                // only for a successful one; a client that got 2xx knows they
                // were confirmed.
                if !(response.status().is_success() || response.status().is_redirection()) {
                    invocation.discard();
                    return response;
                }
                // A streamed body publishes once the stream has ended.
                if response.extensions().get::<Streaming>().is_some() {
                    let (parts, body) = response.into_parts();
                    let finish = async move {
                        invocation.flush().await.map_err(|error| {
                            tracing::error!(error = %error, "publishing the stream's messages failed");
                            BoxError::from(error)
                        })
                    };
                    let body = FinishThen {
                        body,
                        finish: Some(Box::pin(finish)),
                    };
                    return Response::from_parts(parts, crate::http::Body::new(body));
                }
                match invocation.flush().await {
                    Ok(()) => response,
                    Err(error) => {
                        tracing::error!(error = %error, "publishing the handler's messages failed");
                        let problem = Problem::new(
                            http::StatusCode::SERVICE_UNAVAILABLE,
                            "the message broker did not accept this request's messages",
                        );
                        problem.into_response_for(rest)
                    }
                }
            })
        })
    })
}

/// `[Producer; P]` for a handler that has no producers (`P` is 0 whenever
/// there is no broker).
fn no_producers<const P: usize>() -> [Producer; P] {
    std::array::from_fn(|_| unreachable!("a binding with producers always has a broker"))
}

/// The request's correlation id, from the headers clients commonly use.
pub(crate) fn correlation_id(req: &RequestParts) -> Option<String> {
    ["x-correlation-id", "x-request-id"]
        .iter()
        .find_map(|name| req.head.headers.get(*name)?.to_str().ok())
        .map(str::to_owned)
}
