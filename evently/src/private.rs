//! What generated code refers to. Not public API: it changes without notice.

use std::sync::Arc;

use crate::amqp::AmqpHandler;
use crate::app::HandlerKind;
use crate::http::HttpHandler;
use crate::topology::{
    Binding, Consume, Entry, ExchangeBinding, Produce, Resource, Source, Subscribe, Topology,
};

pub use crate::app::{Handler, Routes, Runtime};
pub use crate::http::HttpLayer;
pub use crate::state::HasState;

/// Checks that `handler` fits an `http` or `rest` binding with `P`
/// producers.
pub fn http_handler<H, Args, S, const P: usize>(handler: H) -> Handler<S>
where
    H: HttpHandler<Args, S, P>,
    S: Send + Sync + 'static,
{
    Handler {
        describe: Some(<H as HttpHandler<Args, S, P>>::describe),
        ..Handler::new(HandlerKind::Http(crate::http::unbound::<H, Args, S, P>(
            handler,
        )))
    }
}

/// Checks that `handler` fits an `amqp consume` binding with `P`
/// producers.
pub fn amqp_handler<H, Args, S, const P: usize>(handler: H) -> Handler<S>
where
    H: AmqpHandler<Args, S, P>,
    S: Send + Sync + 'static,
{
    let kind = HandlerKind::Amqp(Box::new(
        move |state: Arc<S>, resources: &'static [Resource]| {
            assert_eq!(resources.len(), P, "one producer per resource");
            Arc::new(
                move |message: &_, invocation: &Arc<crate::amqp::Invocation>| {
                    let producers = std::array::from_fn(|i| invocation.producer(&resources[i]));
                    handler.call(message, &state, producers)
                },
            ) as crate::amqp::BoxedAmqpHandler
        },
    ));
    Handler {
        describe: Some(<H as AmqpHandler<Args, S, P>>::describe),
        ..Handler::new(kind)
    }
}

pub const fn http_binding(
    rest: bool,
    method: &'static str,
    path: &'static str,
    resources: &'static [Resource],
    handler: &'static str,
) -> Binding {
    Binding::new(Entry::Http { rest, method, path }, resources, handler)
}

/// Checks that `handler` fits a `ws` binding with resources `Res`.
pub fn ws_handler<H, Args, S, Res>(handler: H) -> Handler<S>
where
    H: crate::ws::WsHandler<Args, S, Res>,
    S: Send + Sync + 'static,
    Res: crate::ws::SessionResources,
{
    Handler::new(HandlerKind::Http(crate::ws::unbound::<H, Args, S, Res>(
        handler,
    )))
}

pub const fn ws_binding(
    path: &'static str,
    resources: &'static [Resource],
    handler: &'static str,
) -> Binding {
    Binding::new(Entry::Ws { path }, resources, handler)
}

/// Checks that `handler` fits a `grpc` binding with `P` producers.
pub fn grpc_handler<H, Args, S, const P: usize>(handler: H) -> Handler<S>
where
    H: crate::grpc::GrpcHandler<Args, S, P>,
    S: Send + Sync + 'static,
{
    Handler::new(HandlerKind::Http(crate::grpc::unbound::<H, Args, S, P>(
        handler,
    )))
}

pub const fn grpc_binding(
    method: &'static str,
    path: &'static str,
    resources: &'static [Resource],
    handler: &'static str,
) -> Binding {
    Binding::new(Entry::Grpc { method, path }, resources, handler)
}

pub const fn consume_binding(
    queue: &'static str,
    quorum: bool,
    exchange: Option<ExchangeBinding>,
    prefetch: Option<u16>,
    attempts: Option<u32>,
    resources: &'static [Resource],
    handler: &'static str,
) -> Binding {
    Binding::new(
        Entry::Consume(Consume::new(queue, quorum, exchange, prefetch, attempts)),
        resources,
        handler,
    )
}

pub const fn subscribe_binding(
    exchange: ExchangeBinding,
    resources: &'static [Resource],
    handler: &'static str,
) -> Binding {
    Binding::new(
        Entry::Subscribe(Subscribe::new(exchange)),
        resources,
        handler,
    )
}

pub const fn exchange(
    name: &'static str,
    kind: &'static str,
    key: &'static str,
) -> ExchangeBinding {
    ExchangeBinding::new(name, kind, key)
}

pub const fn produce(
    name: Option<&'static str>,
    queue: Option<&'static str>,
    exchange: Option<ExchangeBinding>,
    instantly: bool,
) -> Resource {
    Resource::Produce(Produce::new(name, queue, exchange, instantly))
}

pub const fn source(
    queue: Option<&'static str>,
    quorum: bool,
    exchange: Option<ExchangeBinding>,
) -> Resource {
    Resource::Source(Source::new(queue, quorum, exchange))
}

pub const fn topology(bindings: &'static [Binding]) -> Topology {
    Topology::new(bindings)
}

/// Checks that `handler` fits a `soap` binding with `P` producers.
pub fn soap_handler<H, Args, S, const P: usize>(handler: H) -> Handler<S>
where
    H: crate::soap::SoapHandler<Args, S, P>,
    S: Send + Sync + 'static,
{
    Handler::new(HandlerKind::Soap(crate::soap::unbound::<H, Args, S, P>(
        handler,
    )))
}

pub const fn soap_binding(
    path: &'static str,
    operation: &'static str,
    resources: &'static [Resource],
    handler: &'static str,
) -> Binding {
    Binding::new(Entry::Soap { path, operation }, resources, handler)
}
