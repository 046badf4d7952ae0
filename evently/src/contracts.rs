//! Contracts read from the block itself: the AsyncAPI 3 document of the
//! service's queues, exchanges and WebSockets, served at
//! `GET /_evently/asyncapi.json`, and a page that shows the whole topology
//! to a person, at `GET /_evently/topology`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use crate::openapi::DescribeFn;
use crate::topology::{Binding, Entry, ExchangeBinding, Protocol, Resource, Topology};

/// The documents a service serves about itself, rendered at startup.
pub(crate) struct Documents {
    pub(crate) openapi: String,
    pub(crate) asyncapi: String,
    pub(crate) topology: String,
}

/// What the documents say about the service.
pub(crate) struct About<'a> {
    pub(crate) title: &'a str,
    pub(crate) version: &'a str,
    /// The broker, password hidden, or `None` without one.
    pub(crate) broker: Option<String>,
    pub(crate) http: String,
}

/// The AsyncAPI 3.0 document: a channel per queue, exchange and WebSocket
/// path, and an operation per thing a handler receives or sends.
pub(crate) fn asyncapi(
    about: &About<'_>,
    topology: &Topology,
    handlers: &[(&'static Binding, DescribeFn)],
) -> String {
    let (payloads, schemas) = crate::openapi::message_schemas(handlers);
    let mut channels = BTreeMap::new();
    let mut operations = Map::new();
    for binding in topology.bindings() {
        let handler = binding.handler().replace("::", "_");
        let entry = match binding.entry() {
            Entry::Consume(consume) => Some(queue_channel(&mut channels, consume.queue())),
            Entry::Subscribe(subscribe) => {
                Some(exchange_channel(&mut channels, subscribe.exchange()))
            }
            Entry::Ws { path } => Some(ws_channel(&mut channels, path)),
            _ => None,
        };
        if let Some(channel) = &entry {
            let mut receive = operation("receive", channel, binding, "what starts the handler");
            // What the handler decodes, traced from its parameter's type.
            let payload = payloads
                .iter()
                .find(|(b, _)| std::ptr::eq(*b, binding))
                .map(|(_, schema)| schema.clone());
            if let Some(payload) = payload
                && let Some(Value::Object(messages)) = channels
                    .get_mut(channel)
                    .and_then(|c| c.get_mut("messages"))
            {
                messages.insert(
                    handler.clone(),
                    json!({
                        "name": handler,
                        "contentType": "application/json",
                        "summary": format!("what {} decodes", binding.handler()),
                        "payload": payload,
                    }),
                );
                receive["messages"] =
                    json!([{ "$ref": format!("#/channels/{channel}/messages/{handler}") }]);
            }
            operations.insert(format!("{handler}.receive"), receive);
        }
        if let Entry::Ws { .. } = binding.entry()
            && let Some(channel) = &entry
        {
            operations.insert(
                format!("{handler}.reply"),
                operation(
                    "send",
                    channel,
                    binding,
                    "what the session sends its client",
                ),
            );
        }
        for (index, resource) in binding.resources().iter().enumerate() {
            let (action, channel, summary) = match resource {
                Resource::Produce(produce) => {
                    let channel = match (produce.queue(), produce.exchange_binding()) {
                        (Some(queue), _) => queue_channel(&mut channels, queue),
                        (None, Some(exchange)) => exchange_channel(&mut channels, exchange),
                        (None, None) => continue,
                    };
                    let when = if produce.instantly() {
                        "published when sent"
                    } else {
                        "published once the handler succeeded"
                    };
                    ("send", channel, when)
                }
                Resource::Source(source) => {
                    let channel = match (source.queue(), source.exchange()) {
                        (Some(queue), _) => queue_channel(&mut channels, queue),
                        (None, Some(exchange)) => exchange_channel(&mut channels, exchange),
                        (None, None) => continue,
                    };
                    ("receive", channel, "fed to the session")
                }
            };
            operations.insert(
                format!("{handler}.{action}.{index}"),
                operation(action, &channel, binding, summary),
            );
        }
    }

    let mut servers = Map::new();
    if let Some(broker) = &about.broker {
        let (protocol, host) = match broker.split_once("://") {
            Some(("memory", _)) => ("memory", "in-process".to_owned()),
            Some((protocol, rest)) => {
                let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
                (protocol, host.split('/').next().unwrap_or(host).to_owned())
            }
            None => ("amqp", broker.clone()),
        };
        servers.insert(
            "broker".into(),
            json!({ "host": host, "protocol": protocol, "description": "the message broker" }),
        );
    }
    if topology
        .bindings()
        .iter()
        .any(|b| b.protocol() == Protocol::Ws)
    {
        servers.insert(
            "http".into(),
            json!({ "host": about.http, "protocol": "ws", "description": "WebSocket sessions" }),
        );
    }

    let channels: Map<String, Value> = channels.into_iter().collect();
    let document = json!({
        "asyncapi": "3.0.0",
        "info": { "title": about.title, "version": about.version },
        "defaultContentType": "application/json",
        "servers": servers,
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": {
                "json": {
                    "name": "json",
                    "contentType": "application/json",
                    "summary": "a persistent JSON message with a message id, a timestamp and a \
                                correlation id",
                    "payload": {},
                },
                "frame": {
                    "name": "frame",
                    "summary": "a WebSocket text or binary message",
                    "payload": {},
                },
            },
        },
    });
    serde_json::to_string_pretty(&document).unwrap_or_default()
}

fn operation(action: &str, channel: &str, binding: &Binding, summary: &str) -> Value {
    json!({
        "action": action,
        "channel": { "$ref": format!("#/channels/{channel}") },
        "summary": format!("{}: {summary}", binding.handler()),
    })
}

/// A channel id AsyncAPI accepts: letters, digits, `.`, `_` and `-`.
fn channel_id(kind: &str, name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{kind}-{}", name.trim_matches('-'))
}

fn queue_channel(channels: &mut BTreeMap<String, Value>, queue: &str) -> String {
    let id = channel_id("queue", queue);
    channels.entry(id.clone()).or_insert_with(|| {
        json!({
            "address": queue,
            "messages": { "json": { "$ref": "#/components/messages/json" } },
            "bindings": { "amqp": {
                "is": "queue",
                "queue": { "name": queue, "durable": true, "exclusive": false, "autoDelete": false },
                "bindingVersion": "0.3.0",
            } },
        })
    });
    id
}

fn exchange_channel(channels: &mut BTreeMap<String, Value>, exchange: &ExchangeBinding) -> String {
    let key = exchange.key();
    let id = if key.is_empty() {
        channel_id("exchange", exchange.name())
    } else {
        channel_id("exchange", &format!("{}-{key}", exchange.name()))
    };
    let address = if key.is_empty() { exchange.name() } else { key };
    channels.entry(id.clone()).or_insert_with(|| {
        json!({
            "address": address,
            "messages": { "json": { "$ref": "#/components/messages/json" } },
            "bindings": { "amqp": {
                "is": "routingKey",
                "exchange": {
                    "name": exchange.name(),
                    "type": exchange.kind(),
                    "durable": true,
                    "autoDelete": false,
                },
                "bindingVersion": "0.3.0",
            } },
        })
    });
    id
}

fn ws_channel(channels: &mut BTreeMap<String, Value>, path: &str) -> String {
    let id = channel_id("ws", path);
    channels.entry(id.clone()).or_insert_with(|| {
        json!({
            "address": path,
            "servers": [{ "$ref": "#/servers/http" }],
            "messages": { "frame": { "$ref": "#/components/messages/frame" } },
            "bindings": { "ws": { "method": "GET", "bindingVersion": "0.1.0" } },
        })
    });
    id
}

/// How the block wrote the binding's entry.
fn entry_text(binding: &Binding) -> String {
    match binding.entry() {
        Entry::Http { rest, method, path } => {
            let word = if *rest { "rest" } else { "http" };
            format!("{word} {method} \"{path}\"")
        }
        Entry::Ws { path } => format!("ws \"{path}\""),
        Entry::Consume(consume) => {
            let mut text = format!("amqp consume \"{}\"", consume.queue());
            if let Some(exchange) = consume.exchange() {
                let _ = write!(text, " exchange {}", exchange_text(exchange));
            }
            if let Some(prefetch) = consume.prefetch() {
                let _ = write!(text, " prefetch {prefetch}");
            }
            if let Some(attempts) = consume.attempts() {
                let _ = write!(text, " attempts {attempts}");
            }
            text
        }
        Entry::Subscribe(subscribe) => {
            format!("amqp subscribe {}", exchange_text(subscribe.exchange()))
        }
        Entry::Grpc { method, .. } => format!("grpc \"{method}\""),
        Entry::Soap { path, operation } => format!("soap \"{path}\" {operation}"),
    }
}

fn exchange_text(exchange: &ExchangeBinding) -> String {
    let mut text = format!("\"{}\" {}", exchange.name(), exchange.kind());
    if !exchange.key().is_empty() {
        let _ = write!(text, " key \"{}\"", exchange.key());
    }
    text
}

fn resource_text(resource: &Resource) -> String {
    match resource {
        Resource::Produce(produce) => {
            let mut text = match (produce.queue(), produce.exchange_binding()) {
                (Some(queue), _) => format!("produce \"{queue}\""),
                (None, Some(exchange)) => format!("produce exchange {}", exchange_text(exchange)),
                (None, None) => "produce".to_owned(),
            };
            text.push_str(if produce.instantly() {
                " instantly"
            } else {
                " once_finished"
            });
            if let Some(name) = produce.name() {
                let _ = write!(text, " as {name}");
            }
            text
        }
        Resource::Source(source) => match (source.queue(), source.exchange()) {
            (Some(queue), _) => format!("consume \"{queue}\""),
            (None, Some(exchange)) => format!("subscribe {}", exchange_text(exchange)),
            (None, None) => "consume".to_owned(),
        },
    }
}

/// A page that lists every binding, with links to the other contracts.
pub(crate) fn topology_page(about: &About<'_>, topology: &Topology) -> String {
    let mut page = String::new();
    let title = escape(about.title);
    let _ = write!(
        page,
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}: topology</title>\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}}\
         code{{white-space:nowrap}}</style></head><body>\n\
         <h1>{title} {}</h1>\n<p>{}</p>\n",
        escape(about.version),
        escape(&topology.to_string()),
    );
    if let Some(broker) = &about.broker {
        let _ = writeln!(page, "<p>Broker: <code>{}</code></p>", escape(broker));
    }
    page.push_str(
        "<table>\n<tr><th>protocol</th><th>entry</th><th>resources</th><th>handler</th></tr>\n",
    );
    for binding in topology.bindings() {
        let resources: Vec<String> = binding
            .resources()
            .iter()
            .map(|r| format!("<code>+ {}</code>", escape(&resource_text(r))))
            .collect();
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td><code>{}</code></td></tr>",
            binding.protocol(),
            escape(&entry_text(binding)),
            resources.join("<br>"),
            escape(binding.handler()),
        );
    }
    page.push_str("</table>\n<p>Contracts: ");
    let mut links = vec![
        "<a href=\"openapi.json\">OpenAPI</a> (<a href=\"docs\">browse</a>)".to_owned(),
        "<a href=\"asyncapi.json\">AsyncAPI</a>".to_owned(),
    ];
    let mut soap_paths: Vec<&str> = topology
        .bindings()
        .iter()
        .filter_map(|b| match b.entry() {
            Entry::Soap { path, .. } => Some(*path),
            _ => None,
        })
        .collect();
    soap_paths.dedup();
    for path in soap_paths {
        let path = escape(path);
        links.push(format!("<a href=\"{path}?wsdl\">WSDL of {path}</a>"));
    }
    links.push("<a href=\"metrics\">metrics</a>".to_owned());
    page.push_str(&links.join(", "));
    page.push_str(".</p>\n</body></html>\n");
    page
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
