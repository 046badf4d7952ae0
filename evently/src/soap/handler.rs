//! Plain async functions as SOAP operations.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_reflection::{Format, Tracer};

use super::{Fault, IntoFault};
use crate::amqp::{Invocation, Producer};
use crate::app::BindContext;
use crate::http::State;
use crate::state::HasState;

/// The future of a handler's outcome.
pub type SoapFuture<T> = Pin<Box<dyn Future<Output = Result<T, Fault>> + Send>>;

/// An `async fn` that can answer a `soap` binding with `P` `produce`
/// resources.
///
/// It is implemented for every `async fn` (or closure returning a future)
/// that takes the operation's request, optionally after a `State<T>`, then
/// exactly `P` producers, and returns `Result<Response, E>` where `E` is a
/// [`Fault`] or any `Display` error. The request and response are serde
/// types (both ways: the WSDL is derived by tracing `Deserialize`).
#[diagnostic::on_unimplemented(
    message = "this handler does not fit a `soap` binding: expected an `async fn` taking the \
               operation's request, then {P} `Producer` parameter(s), and returning \
               `Result<Response, Fault>`",
    label = "its parameters, output or future do not fit the binding",
    note = "a SOAP handler looks like `async fn add(request: Add) -> Result<AddResponse, Fault>`, \
            optionally taking `State<T>` first (with `state T;` in the block), then one \
            `Producer` per `produce` resource, in binding order",
    note = "the request and the response derive both `Serialize` and `Deserialize`; the error \
            is `evently::soap::Fault` or any type implementing `Display`",
    note = "the future must be `Send`: hold no `Rc` or other `!Send` value across an `.await`"
)]
pub trait SoapHandler<Args, S, const P: usize>: Clone + Send + Sync + 'static {
    /// The operation's request, decoded from the Body's element.
    type Request: DeserializeOwned + Send + 'static;
    /// The operation's response, encoded as `<OperationResponse>`.
    type Response: Serialize + DeserializeOwned + Send + 'static;

    /// Runs the handler on a decoded request.
    fn call(
        &self,
        request: Self::Request,
        state: &Arc<S>,
        producers: [Producer; P],
    ) -> SoapFuture<Self::Response>;
}

/// What a SOAP handler returns: `Result<T, E>` with a serde `T` and an
/// error that is a [`Fault`] or `Display`.
pub trait SoapOutput: Send {
    /// The successful response.
    type Response: Serialize + DeserializeOwned + Send + 'static;

    /// The response, or the fault to send.
    fn into_result(self) -> Result<Self::Response, Fault>;
}

impl<T, E> SoapOutput for Result<T, E>
where
    T: Serialize + DeserializeOwned + Send + 'static,
    E: IntoFault + Send,
{
    type Response = T;

    fn into_result(self) -> Result<T, Fault> {
        self.map_err(IntoFault::into_fault)
    }
}

macro_rules! impl_soap_handler {
    ([$($p:ident),*], $count:literal) => {
        impl<F, Fut, Req, O, S> SoapHandler<(Req,), S, $count> for F
        where
            F: Fn(Req, $(producer_type!($p)),*) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = O> + Send + 'static,
            O: SoapOutput,
            Req: DeserializeOwned + Send + 'static,
            S: Send + Sync + 'static,
        {
            type Request = Req;
            type Response = O::Response;

            fn call(
                &self,
                request: Req,
                _state: &Arc<S>,
                producers: [Producer; $count],
            ) -> SoapFuture<O::Response> {
                let [$($p),*] = producers;
                let future = self(request, $($p),*);
                Box::pin(async move { future.await.into_result() })
            }
        }

        impl<F, Fut, T, Req, O, S> SoapHandler<(State<T>, Req), S, $count> for F
        where
            F: Fn(State<T>, Req, $(producer_type!($p)),*) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = O> + Send + 'static,
            O: SoapOutput,
            Req: DeserializeOwned + Send + 'static,
            T: Clone + Send + 'static,
            S: HasState<T> + Send + Sync + 'static,
        {
            type Request = Req;
            type Response = O::Response;

            fn call(
                &self,
                request: Req,
                state: &Arc<S>,
                producers: [Producer; $count],
            ) -> SoapFuture<O::Response> {
                let [$($p),*] = producers;
                let future = self(State(state.state().clone()), request, $($p),*);
                Box::pin(async move { future.await.into_result() })
            }
        }
    };
}

impl_soap_handler!([], 0);
impl_soap_handler!([p1], 1);
impl_soap_handler!([p1, p2], 2);
impl_soap_handler!([p1, p2, p3], 3);
impl_soap_handler!([p1, p2, p3, p4], 4);

/// The future of an erased operation: the response element, or a fault.
pub(crate) type OperationFuture = Pin<Box<dyn Future<Output = Result<String, Fault>> + Send>>;

/// Runs one operation: the request element's XML and the request's
/// correlation id in, the response element's XML out.
pub(crate) type OperationCall = Arc<dyn Fn(&str, Option<String>) -> OperationFuture + Send + Sync>;

/// One operation of a SOAP endpoint, its types erased.
pub(crate) struct Operation {
    pub(crate) name: &'static str,
    pub(crate) call: OperationCall,
    /// Traces the request and response types into a tracer, for the WSDL.
    pub(crate) trace: fn(&mut Tracer) -> Result<(Format, Format), serde_reflection::Error>,
}

/// A SOAP handler waiting for the state and the rest it will be handed.
pub(crate) type UnboundOperation<S> =
    Box<dyn FnOnce(Arc<S>, BindContext, &'static str) -> Operation + Send>;

/// Checks that `handler` fits a `soap` binding with `P` producers and erases
/// its type.
pub(crate) fn unbound<H, Args, S, const P: usize>(handler: H) -> UnboundOperation<S>
where
    H: SoapHandler<Args, S, P>,
    S: Send + Sync + 'static,
{
    Box::new(
        move |state: Arc<S>, context: BindContext, name: &'static str| {
            let resources = context.resources;
            let broker = context.broker.filter(|_| P > 0);
            if broker.is_some() {
                assert_eq!(resources.len(), P, "one producer per resource");
            }
            let response_root = format!("tns:{name}Response");
            let call = move |xml: &str, correlation_id: Option<String>| -> OperationFuture {
                let request = match quick_xml::de::from_str::<H::Request>(xml) {
                    Ok(request) => request,
                    Err(error) => {
                        let fault = Fault::client(format!(
                            "the `{name}` element does not fit the operation's request: {error}"
                        ));
                        return Box::pin(std::future::ready(Err(fault)));
                    }
                };
                let invocation = broker
                    .as_ref()
                    .map(|broker| Invocation::new(broker.clone(), correlation_id));
                let producers = std::array::from_fn(|i| match &invocation {
                    Some(invocation) => invocation.producer(&resources[i]),
                    None => unreachable!("a binding with producers always has a broker"),
                });
                let outcome = handler.call(request, &state, producers);
                let response_root = response_root.clone();
                Box::pin(async move {
                    let outcome = outcome.await;
                    let response = match (outcome, &invocation) {
                        (Err(fault), Some(invocation)) => {
                            invocation.discard();
                            return Err(fault);
                        }
                        (outcome, _) => outcome?,
                    };

                    // `once_finished` messages go out before the response: a
                    // client that got a response knows they were confirmed.
                    if let Some(invocation) = invocation
                        && let Err(error) = invocation.flush().await
                    {
                        tracing::error!(error = %error, "publishing the handler's messages failed");
                        return Err(Fault::server(
                            "the message broker did not accept this request's messages",
                        ));
                    }
                    quick_xml::se::to_string_with_root(&response_root, &response).map_err(|error| {
                        tracing::error!(error = %error, "soap response could not be encoded");
                        Fault::server("the operation's response could not be encoded as XML")
                    })
                })
            };
            Operation {
                name,
                call: Arc::new(call),
                trace: trace::<H::Request, H::Response>,
            }
        },
    )
}

/// Traces a request and a response type.
fn trace<Req: DeserializeOwned, Res: DeserializeOwned>(
    tracer: &mut Tracer,
) -> Result<(Format, Format), serde_reflection::Error> {
    let (request, _) = tracer.trace_simple_type::<Req>()?;
    let (response, _) = tracer.trace_simple_type::<Res>()?;
    Ok((request, response))
}
