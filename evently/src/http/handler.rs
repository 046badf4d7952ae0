//! Plain async functions as HTTP handlers.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::{FromRequest, IntoResponse, RequestParts, Response};

/// A boxed response future.
pub(crate) type ResponseFuture = Pin<Box<dyn Future<Output = Response> + Send>>;

/// A handler with its state bound: request in, response future out.
pub(crate) type BoxedHandler = Arc<dyn Fn(RequestParts, bool) -> ResponseFuture + Send + Sync>;

/// An `async fn` that can answer an `http` or `rest` binding.
///
/// It is implemented for every `async fn` (or closure returning a future)
/// of up to twelve parameters, each an extractor ([`FromRequest`]), at most
/// one of them reading the body, and returning a value that implements
/// [`IntoResponse`]. `Args` is the tuple of parameter types; `S` the block's
/// state.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not fit an `http` or `rest` binding",
    label = "this handler does not fit its binding",
    note = "an `http` or `rest` handler is an `async fn` whose parameters are extractors \
            (`Json<T>`, `Path<T>`, `Query<T>`, `State<T>`, `HeaderMap`, `Method`, `Uri`, \
            `String`, `Bytes`) and whose return type implements `IntoResponse`",
    note = "`State<T>` needs `state T;` in the block; `rest` handlers usually return `Json<T>` \
            or `Result<Json<T>, Problem>`"
)]
pub trait HttpHandler<Args, S>: Clone + Send + Sync + 'static {
    /// Runs the handler on a request. `rest` says how refusals are sent.
    fn call(&self, req: RequestParts, state: &Arc<S>, rest: bool) -> ResponseFuture;
}

macro_rules! impl_handler {
    ($($ty:ident),*) => {
        #[allow(non_snake_case, unused_mut, unused_variables)]
        impl<F, Fut, R, S, $($ty,)*> HttpHandler<($($ty,)*), S> for F
        where
            F: Fn($($ty),*) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = R> + Send + 'static,
            R: IntoResponse,
            S: Send + Sync + 'static,
            $($ty: FromRequest<S> + Send + 'static,)*
        {
            fn call(&self, mut req: RequestParts, state: &Arc<S>, rest: bool) -> ResponseFuture {
                const {
                    let readers = 0 $(+ <$ty as FromRequest<S>>::READS_BODY as usize)*;
                    assert!(
                        readers <= 1,
                        "a handler may have one parameter that reads the request body \
                         (`Json<T>`, `String`, `Bytes`), not several"
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
                    handler($($ty),*).await.into_response()
                })
            }
        }
    };
}

impl_handler!();
impl_handler!(T1);
impl_handler!(T1, T2);
impl_handler!(T1, T2, T3);
impl_handler!(T1, T2, T3, T4);
impl_handler!(T1, T2, T3, T4, T5);
impl_handler!(T1, T2, T3, T4, T5, T6);
impl_handler!(T1, T2, T3, T4, T5, T6, T7);
impl_handler!(T1, T2, T3, T4, T5, T6, T7, T8);
impl_handler!(T1, T2, T3, T4, T5, T6, T7, T8, T9);
impl_handler!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10);
impl_handler!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11);
impl_handler!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12);

/// A handler waiting for the state it will be handed.
pub(crate) type UnboundHandler<S> = Box<dyn FnOnce(Arc<S>) -> BoxedHandler + Send>;

/// Checks that `handler` fits an HTTP binding and erases its type.
pub(crate) fn unbound<H, Args, S>(handler: H) -> UnboundHandler<S>
where
    H: HttpHandler<Args, S>,
    S: Send + Sync + 'static,
{
    Box::new(move |state: Arc<S>| -> BoxedHandler {
        Arc::new(move |req, rest| handler.call(req, &state, rest))
    })
}
