//! Validation of a parsed block. Every rule is a function of its own that
//! pushes errors into the context and generates nothing.

use std::collections::HashMap;

use proc_macro2::Span;
use quote::ToTokens;
use syn::spanned::Spanned;

use crate::ctxt::Ctxt;
use syn::LitInt;

use crate::parse::{AmqpSource, Block, Entry, HttpEntry, PathTemplate, ResourceKind};

pub(crate) fn block(block: &Block, cx: &mut Ctxt) {
    resources_served(block, cx);
    route_conflicts(block, cx);
    queue_conflicts(block, cx);
    operation_conflicts(block, cx);
    resource_names(block, cx);
    state_types(block, cx);
}

/// Every entry of the grammar is served; `consume` and `subscribe`
/// resources are served on `ws` entries, where each session gets its own
/// consumer. Anywhere else they would have no meaning, and a binding that
/// names one must not compile into a service that silently ignores it.
fn resources_served(block: &Block, cx: &mut Ctxt) {
    for binding in &block.bindings {
        // A session consumes; a consumer or a request does not.
        let is_ws = matches!(binding.entry, Entry::Ws { .. });
        for resource in &binding.resources {
            let word = match &resource.kind {
                ResourceKind::Produce { .. } => continue,
                ResourceKind::Source(AmqpSource::Consume {
                    prefetch, attempts, ..
                }) if is_ws => {
                    session_consumer_settings(prefetch.as_ref(), attempts.as_ref(), cx);
                    continue;
                }
                ResourceKind::Source(_) if is_ws => continue,
                ResourceKind::Source(AmqpSource::Consume { .. }) => "consume",
                ResourceKind::Source(AmqpSource::Subscribe { .. }) => "subscribe",
            };
            cx.error(
                resource.span,
                format!(
                    "`+ {word}` resources belong to `ws` entries, where each session gets its \
                     own consumer; this entry takes `+ produce` resources"
                ),
            );
        }
    }
}

/// A session's consumer takes the service's prefetch and never retries: it
/// acks what it wrote to the socket. Settings that would do nothing there
/// do not compile.
fn session_consumer_settings(prefetch: Option<&LitInt>, attempts: Option<&LitInt>, cx: &mut Ctxt) {
    if let Some(prefetch) = prefetch {
        cx.error(
            prefetch.span(),
            "`prefetch` applies to `amqp consume` entries; a WebSocket session's consumer \
             takes the service's prefetch (`EVENTLY_AMQP_PREFETCH`)",
        );
    }
    if let Some(attempts) = attempts {
        cx.error(
            attempts.span(),
            "`attempts` applies to `amqp consume` entries; a WebSocket session does not retry \
             a message, it acks what it wrote to the socket",
        );
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
        let name = queue.value();
        if let Some(first) = seen.get(&name) {
            cx.error(
                queue.span(),
                format!("the queue `\"{name}\"` is consumed twice"),
            );
            cx.error(
                *first,
                format!("the queue `\"{name}\"` is first consumed here"),
            );
        } else {
            seen.insert(name, queue.span());
        }
    }
}

/// Two bindings that answer the same method on the same path cannot both
/// win. Templates that differ only by parameter names match the same
/// requests, so they conflict too; and paths of one shape must name their
/// parameters alike, because the router keeps one name per segment.
fn route_conflicts(block: &Block, cx: &mut Ctxt) {
    let mut routes: HashMap<(&str, &str), &HttpEntry> = HashMap::new();
    let mut shapes: HashMap<&str, &PathTemplate> = HashMap::new();
    for binding in &block.bindings {
        let Entry::Http(http) = &binding.entry else {
            continue;
        };
        let (method, path) = (&http.method.name, &http.path);
        if let Some(first) = routes.get(&(method.as_str(), path.shape.as_str())) {
            let route = format!("`{method} {}`", first.path.value);
            let message = if first.path.value == path.value {
                format!("the route {route} is bound twice")
            } else {
                format!(
                    "the route `{method} {}` matches the same requests as {route}; \
                     parameter names do not tell routes apart",
                    path.value
                )
            };
            cx.error(path.lit.span(), message);
            cx.error(
                first.path.lit.span(),
                format!("the route {route} is first bound here"),
            );
            continue;
        }
        routes.insert((method, &path.shape), http);
        match shapes.get(path.shape.as_str()) {
            Some(first) if first.value != path.value => {
                cx.error(
                    path.lit.span(),
                    format!(
                        "paths of the same shape name their parameters alike: \
                         expected `\"{}\"`, found `\"{}\"`",
                        first.value, path.value
                    ),
                );
                cx.error(
                    first.lit.span(),
                    format!("`\"{}\"` names the parameters first here", first.value),
                );
            }
            Some(_) => {}
            None => {
                shapes.insert(&path.shape, path);
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
                format!("the SOAP operation `{operation}` at `\"{}\"`", path.value),
            ),
            Entry::Grpc { method, .. } => (
                format!("grpc {}", method.value()),
                method.span(),
                format!("the gRPC method `\"{}\"`", method.value()),
            ),
            _ => continue,
        };
        if let Some(first) = seen.get(&key) {
            cx.error(span, format!("{what} is bound twice"));
            cx.error(*first, format!("{what} is first bound here"));
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
            if let Some(first) = names.iter().find(|n| **n == name) {
                cx.error(
                    name.span(),
                    format!("the resource name `{name}` is used twice in this binding"),
                );
                cx.error(
                    first.span(),
                    format!("the resource name `{name}` is first used here"),
                );
            }
            names.push(name);
        }
    }
}

/// Each state type is declared once: a handler asks for state by its type.
fn state_types(block: &Block, cx: &mut Ctxt) {
    let mut seen: Vec<(String, &syn::Type)> = Vec::new();
    for state in &block.states {
        let ty = state.ty.to_token_stream().to_string().replace(' ', "");
        if let Some((_, first)) = seen.iter().find(|(seen, _)| *seen == ty) {
            cx.error(
                state.ty.span(),
                format!(
                    "`state {ty};` is declared twice; handlers ask for state by its type, \
                     so each type is declared once"
                ),
            );
            cx.error(
                first.span(),
                format!("`state {ty};` is first declared here"),
            );
            continue;
        }
        seen.push((ty, &state.ty));
    }
}

#[cfg(test)]
mod tests {
    use crate::ctxt::Ctxt;
    use crate::parse::{self, AmqpSource, Entry};

    /// Parses and checks `source`, returning the block and every message.
    fn run(source: &str) -> (parse::Block, Vec<String>) {
        let tokens = source.parse().expect("the test block tokenizes");
        let mut cx = Ctxt::default();
        let block = parse::block(tokens, &mut cx);
        super::block(&block, &mut cx);
        let messages = cx.messages();
        (block, messages)
    }

    fn errors(source: &str) -> Vec<String> {
        run(source).1
    }

    #[test]
    fn a_block_of_every_entry_parses_and_passes() {
        let (block, messages) = run(r#"
            state Shop;
            http GET "/" => page;
            rest POST "/orders/{id}" + amqp produce "orders" instantly as sent => place;
            ws "/live" + amqp subscribe "news" fanout + produce "said" => live;
            soap "/soap/shop" Buy => buy;
            grpc "shop.Store/Find" => find;
            amqp consume "orders" quorum exchange "shop" key "order.*" prefetch 8 => on_order;
            amqp subscribe "prices" fanout => on_price;
        "#);
        assert!(messages.is_empty(), "{messages:?}");
        assert_eq!(block.states.len(), 1);
        assert_eq!(block.bindings.len(), 7);
        let Entry::Amqp {
            source: AmqpSource::Consume {
                quorum, prefetch, ..
            },
            ..
        } = &block.bindings[5].entry
        else {
            panic!("the sixth binding consumes");
        };
        assert!(*quorum);
        assert_eq!(prefetch.as_ref().unwrap().base10_parse::<u16>().unwrap(), 8);
        assert!(matches!(
            block.bindings[6].entry,
            Entry::Amqp {
                source: AmqpSource::Subscribe { .. },
                ..
            }
        ));
    }

    #[test]
    fn every_mistake_is_reported_at_once() {
        let messages = errors(
            r#"
            http GET "/a" page;
            rest FETCH "/b" => b;
            amqp consume "q" prefetch 0 => c;
        "#,
        );
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert!(messages[0].contains("=>"), "{messages:?}");
        assert!(messages[1].contains("FETCH"), "{messages:?}");
        assert!(messages[2].contains("prefetch"), "{messages:?}");
    }

    #[test]
    fn consume_settings_come_in_either_order_once_each() {
        for source in [
            r#"amqp consume "q" prefetch 8 attempts 2 => c;"#,
            r#"amqp consume "q" attempts 2 prefetch 8 => c;"#,
        ] {
            let (block, messages) = run(source);
            assert!(messages.is_empty(), "{messages:?}");
            let Entry::Amqp {
                source:
                    AmqpSource::Consume {
                        prefetch, attempts, ..
                    },
                ..
            } = &block.bindings[0].entry
            else {
                panic!("the binding consumes");
            };
            assert_eq!(prefetch.as_ref().unwrap().base10_parse::<u16>().unwrap(), 8);
            assert_eq!(attempts.as_ref().unwrap().base10_parse::<u32>().unwrap(), 2);
        }

        let messages = errors(
            r#"
            amqp consume "a" attempts 0 => a;
            amqp consume "b" attempts 1 attempts 2 => b;
            ws "/c" + amqp consume "c" prefetch 3 attempts 2 => c;
        "#,
        );
        assert_eq!(messages.len(), 4, "{messages:?}");
        assert!(messages[0].contains("attempts must be"), "{messages:?}");
        assert!(
            messages[1].contains("`attempts` is given twice"),
            "{messages:?}"
        );
        assert!(
            messages[2].contains("`prefetch` applies to"),
            "{messages:?}"
        );
        assert!(
            messages[3].contains("`attempts` applies to"),
            "{messages:?}"
        );
    }

    #[test]
    fn conflicts_point_at_both_places() {
        let messages = errors(
            r#"
            rest GET "/users/{id}" => one;
            rest GET "/users/{name}" => two;
        "#,
        );
        assert_eq!(messages.len(), 2, "{messages:?}");

        let messages = errors(
            r#"
            amqp consume "jobs" => one;
            amqp consume "jobs" => two;
            soap "/s" Add => add;
            soap "/s" Add => add_again;
            grpc "a.B/C" => c;
            grpc "a.B/C" => c_again;
        "#,
        );
        assert_eq!(messages.len(), 6, "{messages:?}");
        assert!(
            messages.iter().any(|m| m.contains("consumed twice")),
            "{messages:?}"
        );
    }

    #[test]
    fn methods_on_one_path_do_not_conflict() {
        let messages = errors(
            r#"
            rest GET "/things/{id}" => get;
            rest PUT "/things/{id}" => put;
            rest DELETE "/things/{id}" => delete;
        "#,
        );
        assert!(messages.is_empty(), "{messages:?}");
    }

    #[test]
    fn sources_belong_to_websockets() {
        let messages = errors(
            r#"
            rest POST "/ask" + amqp consume "answers" => ask;
            ws "/live" + amqp consume "answers" => live;
        "#,
        );
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(
            messages[0].contains("belong to `ws` entries"),
            "{messages:?}"
        );
    }

    #[test]
    fn state_is_declared_once() {
        let messages = errors("state Shop; state Shop; http GET \"/\" => page;");
        assert!(!messages.is_empty());
        assert!(messages.iter().any(|m| m.contains("Shop")), "{messages:?}");
    }
}
