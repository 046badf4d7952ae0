//! Validation of a parsed block. Every rule is a function of its own that
//! pushes errors into the context and generates nothing.

use std::collections::HashMap;

use proc_macro2::Span;
use quote::ToTokens;

use crate::ctxt::Ctxt;
use crate::parse::{AmqpSource, Binding, Block, Entry, ResourceKind};

pub(crate) fn block(block: &Block, cx: &mut Ctxt) {
    protocols_served(block, cx);
    route_conflicts(block, cx);
    queue_conflicts(block, cx);
    operation_conflicts(block, cx);
    resource_names(block, cx);
    state_types(block, cx);
}

/// The grammar covers every protocol of the design, but this version of
/// evently serves `http`, `rest` and `amqp consume` entries, with `produce`
/// resources. A binding that names anything else must not compile into a
/// service that silently ignores it.
fn protocols_served(block: &Block, cx: &mut Ctxt) {
    for binding in &block.bindings {
        let protocol = match &binding.entry {
            Entry::Http(_) => None,
            Entry::Amqp {
                source: AmqpSource::Consume { .. },
                ..
            } => None,
            Entry::Amqp { .. } => Some("amqp subscribe"),
            Entry::Ws { .. } => Some("ws"),
            Entry::Soap { .. } => Some("soap"),
            Entry::Grpc { .. } => Some("grpc"),
        };
        if let Some(protocol) = protocol {
            cx.error(
                binding.entry.span(),
                format!(
                    "`{protocol}` entries are not served by this version of evently; \
                     it serves `http`, `rest` and `amqp consume` entries"
                ),
            );
        }
        for resource in &binding.resources {
            if let ResourceKind::Source(_) = resource.kind {
                cx.error(
                    resource.span,
                    "`consume` and `subscribe` resources are not served by this version of \
                     evently; a binding's resources are `produce` resources",
                );
            }
        }
    }
}

/// Two bindings consuming one queue would compete for its messages inside
/// one service, which is never what the block means.
fn queue_conflicts(block: &Block, cx: &mut Ctxt) {
    let mut seen: HashMap<String, Span> = HashMap::new();
    for binding in &block.bindings {
        let Entry::Amqp {
            source: AmqpSource::Consume { queue, .. },
            ..
        } = &binding.entry
        else {
            continue;
        };
        if let Some(first) = seen.get(&queue.value()) {
            cx.error(
                queue.span(),
                format!("queue \"{}\" is consumed twice", queue.value()),
            );
            cx.error(
                *first,
                format!("queue \"{}\" first consumed here", queue.value()),
            );
        } else {
            seen.insert(queue.value(), queue.span());
        }
    }
}

/// Two bindings that answer the same method on the same path cannot both
/// win. Templates that differ only by parameter names match the same
/// requests, so they conflict too; and paths of one shape must name their
/// parameters alike, because the router keeps one name per segment.
fn route_conflicts(block: &Block, cx: &mut Ctxt) {
    let mut routes: HashMap<(&str, &str), &Binding> = HashMap::new();
    let mut shapes: HashMap<&str, &str> = HashMap::new();
    for binding in &block.bindings {
        let Entry::Http(http) = &binding.entry else {
            continue;
        };
        let path = &http.path;
        let key = (http.method.name.as_str(), path.shape.as_str());
        if let Some(first) = routes.get(&key) {
            let Entry::Http(first_http) = &first.entry else {
                unreachable!("only http entries are recorded");
            };
            cx.error(
                path.lit.span(),
                format!(
                    "conflicting routes: `{} {}` is already bound to `{}`",
                    http.method.name,
                    path.value,
                    first.handler.to_token_stream().to_string().replace(' ', "")
                ),
            );
            cx.error(
                first_http.path.lit.span(),
                format!(
                    "`{} {}` first bound here",
                    first_http.method.name, first_http.path.value
                ),
            );
            continue;
        }
        routes.insert(key, binding);
        match shapes.get(path.shape.as_str()) {
            Some(first) if *first != path.value => cx.error(
                path.lit.span(),
                format!(
                    "the path \"{}\" names its parameters differently from \"{first}\"; \
                     paths of the same shape must use the same parameter names",
                    path.value
                ),
            ),
            Some(_) => {}
            None => {
                shapes.insert(&path.shape, &path.value);
            }
        }
    }
}

/// A SOAP operation or a gRPC method is served by one handler only.
fn operation_conflicts(block: &Block, cx: &mut Ctxt) {
    let mut seen: HashMap<String, Span> = HashMap::new();
    for binding in &block.bindings {
        let (key, span, what) = match &binding.entry {
            Entry::Soap {
                path, operation, ..
            } => (
                format!("soap {} {operation}", path.shape),
                operation.span(),
                format!("SOAP operation `{operation}` at \"{}\"", path.value),
            ),
            Entry::Grpc { method, .. } => (
                format!("grpc {}", method.value()),
                method.span(),
                format!("gRPC method \"{}\"", method.value()),
            ),
            _ => continue,
        };
        if let Some(first) = seen.get(&key) {
            cx.error(span, format!("{what} is bound twice"));
            cx.error(*first, format!("{what} first bound here"));
        } else {
            seen.insert(key, span);
        }
    }
}

/// A producer's name is how a handler tells its producers apart in logs and
/// docs; two resources of one binding may not share it.
fn resource_names(block: &Block, cx: &mut Ctxt) {
    for binding in &block.bindings {
        let mut names: Vec<&syn::Ident> = Vec::new();
        for resource in &binding.resources {
            let ResourceKind::Produce {
                name: Some(name), ..
            } = &resource.kind
            else {
                continue;
            };
            if names.iter().any(|n| *n == name) {
                cx.error(
                    name.span(),
                    format!("the resource name `{name}` is used twice in this binding"),
                );
            }
            names.push(name);
        }
    }
}

/// Each state type is declared once: a handler asks for state by its type.
fn state_types(block: &Block, cx: &mut Ctxt) {
    let mut seen: Vec<String> = Vec::new();
    for state in &block.states {
        let ty = state.ty.to_token_stream().to_string();
        if seen.contains(&ty) {
            cx.error(
                syn::spanned::Spanned::span(&state.ty),
                format!(
                    "`state {}` is declared twice; each state type is declared once",
                    ty.replace(' ', "")
                ),
            );
        }
        seen.push(ty);
    }
}
