//! Tokens in, syntax tree out.
//!
//! The block is split at its top-level `;` first, and each item is parsed on
//! its own, so one malformed binding does not hide the mistakes in the others.
//! Whether the topology makes sense (conflicts, protocols not served yet) is
//! `check`'s business, not this module's.

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Ident, LitInt, LitStr, Token};

use crate::ctxt::Ctxt;
use crate::kw;

/// The block: `item*`, each item ended by `;`.
pub(crate) struct Block {
    pub(crate) states: Vec<StateDecl>,
    pub(crate) bindings: Vec<Binding>,
}

/// `state Type;` declares shared state handed to handlers as `State<Type>`.
pub(crate) struct StateDecl {
    pub(crate) ty: syn::Type,
}

/// `entry (+ resource)* => handler;`
pub(crate) struct Binding {
    pub(crate) entry: Entry,
    pub(crate) resources: Vec<Resource>,
    pub(crate) handler: syn::Path,
}

// The fields of entries and resources that are not served yet are parsed so
// the grammar is whole; their expansions will read them.
#[allow(dead_code)]
/// What starts a handler.
pub(crate) enum Entry {
    /// `http METHOD "/path"` (HTML and text) or `rest METHOD "/path"` (JSON).
    Http(HttpEntry),
    /// `ws "/path"`
    Ws { keyword: Span, path: PathTemplate },
    /// `soap "/path" Operation`
    Soap {
        keyword: Span,
        path: PathTemplate,
        operation: Ident,
    },
    /// `grpc "package.Service/Method"`
    Grpc { keyword: Span, method: LitStr },
    /// `amqp consume "queue" ...` or `amqp subscribe "exchange" ...`
    Amqp { keyword: Span, source: AmqpSource },
}

/// `http METHOD "/path"` or `rest METHOD "/path"`.
pub(crate) struct HttpEntry {
    pub(crate) flavor: Flavor,
    pub(crate) method: Method,
    pub(crate) path: PathTemplate,
}

/// Whether an HTTP entry serves pages (`http`) or typed JSON (`rest`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    Http,
    Rest,
}

/// One of `GET`, `POST`, `PUT`, `PATCH`, `DELETE`, `HEAD`, `OPTIONS`.
pub(crate) struct Method {
    pub(crate) name: String,
    pub(crate) span: Span,
}

// The fields of entries and resources that are not served yet are parsed so
// the grammar is whole; their expansions will read them.
#[allow(dead_code)]
/// Where AMQP messages come from.
pub(crate) enum AmqpSource {
    /// `consume "queue" (exchange "name" (key "routing.key")?)? (prefetch N)?`
    Consume {
        queue: LitStr,
        exchange: Option<ExchangeRef>,
        prefetch: Option<LitInt>,
    },
    /// `subscribe "exchange" (key "routing.key")?`: an exclusive queue bound
    /// to the exchange, living as long as the consumer.
    Subscribe { exchange: ExchangeRef },
}

// The fields of entries and resources that are not served yet are parsed so
// the grammar is whole; their expansions will read them.
#[allow(dead_code)]
/// `exchange "name" (fanout | topic | direct)? (key "routing.key")?`, or the
/// exchange of `subscribe`. Exchanges are `topic` unless the binding says
/// otherwise.
pub(crate) struct ExchangeRef {
    pub(crate) name: LitStr,
    pub(crate) kind: &'static str,
    pub(crate) key: Option<LitStr>,
}

/// `+ (amqp)? produce target (instantly | once_finished)? (as name)?`,
/// or `+ (amqp)? consume ...` / `+ (amqp)? subscribe ...`.
pub(crate) struct Resource {
    pub(crate) span: Span,
    pub(crate) kind: ResourceKind,
}

// The fields of entries and resources that are not served yet are parsed so
// the grammar is whole; their expansions will read them.
#[allow(dead_code)]
pub(crate) enum ResourceKind {
    Produce {
        target: ProduceTarget,
        instantly: bool,
        name: Option<Ident>,
    },
    Source(AmqpSource),
}

// The fields of entries and resources that are not served yet are parsed so
// the grammar is whole; their expansions will read them.
#[allow(dead_code)]
/// `"queue"` or `exchange "name" (key "routing.key")?`.
pub(crate) enum ProduceTarget {
    Queue(LitStr),
    Exchange(ExchangeRef),
}

/// A path such as `/users/{id}/files/{*rest}`, already validated.
pub(crate) struct PathTemplate {
    pub(crate) lit: LitStr,
    pub(crate) value: String,
    /// The path with every parameter name erased: two templates with the same
    /// shape match the same requests.
    pub(crate) shape: String,
}

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// Parses the whole block, collecting one error per malformed item.
pub(crate) fn block(input: TokenStream, cx: &mut Ctxt) -> Block {
    let mut block = Block {
        states: Vec::new(),
        bindings: Vec::new(),
    };
    for chunk in split_items(input, cx) {
        match syn::parse2::<Item>(chunk) {
            Ok(Item::State(state)) => block.states.push(state),
            Ok(Item::Binding(binding)) => block.bindings.push(binding),
            Err(error) => cx.push(error),
        }
    }
    block
}

/// Splits the block at top-level `;`. A trailing item without `;` is an error.
fn split_items(input: TokenStream, cx: &mut Ctxt) -> Vec<TokenStream> {
    let mut items = Vec::new();
    let mut current: Vec<TokenTree> = Vec::new();
    for tree in input {
        match &tree {
            TokenTree::Punct(p) if p.as_char() == ';' => {
                if current.is_empty() {
                    cx.error(p.span(), "unexpected `;`, expected a binding before it");
                } else {
                    items.push(current.drain(..).collect());
                }
            }
            _ => current.push(tree),
        }
    }
    if let Some(last) = current.last() {
        let span = match last {
            TokenTree::Group(g) if g.delimiter() != Delimiter::None => g.span_close(),
            other => other.span(),
        };
        cx.error(span, "expected `;` after the last binding");
        items.push(current.into_iter().collect());
    }
    items
}

enum Item {
    State(StateDecl),
    Binding(Binding),
}

impl Parse for Item {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(kw::state) {
            input.parse::<kw::state>()?;
            let ty = input.parse()?;
            return Ok(Item::State(StateDecl { ty }));
        }
        let entry = input.parse()?;
        let mut resources = Vec::new();
        while input.peek(Token![+]) {
            input.parse::<Token![+]>()?;
            resources.push(input.parse()?);
        }
        if !input.peek(Token![=>]) {
            return Err(input.error("expected `=>` followed by the handler, or `+` and a resource"));
        }
        input.parse::<Token![=>]>()?;
        if input.is_empty() {
            return Err(input.error("expected the handler after `=>`"));
        }
        let handler = input.parse()?;
        if !input.is_empty() {
            return Err(input.error("expected `;` after the handler"));
        }
        Ok(Item::Binding(Binding {
            entry,
            resources,
            handler,
        }))
    }
}

impl Parse for Entry {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let lookahead = input.lookahead1();
        if lookahead.peek(kw::http) || lookahead.peek(kw::rest) {
            let flavor = if input.peek(kw::http) {
                input.parse::<kw::http>()?;
                Flavor::Http
            } else {
                input.parse::<kw::rest>()?;
                Flavor::Rest
            };
            let method = input.parse()?;
            let path = input.parse()?;
            Ok(Entry::Http(HttpEntry {
                flavor,
                method,
                path,
            }))
        } else if lookahead.peek(kw::ws) {
            let keyword = input.parse::<kw::ws>()?.span;
            let path = input.parse()?;
            Ok(Entry::Ws { keyword, path })
        } else if lookahead.peek(kw::soap) {
            let keyword = input.parse::<kw::soap>()?.span;
            let path = input.parse()?;
            if !input.peek(Ident) {
                return Err(input.error("expected the SOAP operation name after the path"));
            }
            let operation = input.parse()?;
            Ok(Entry::Soap {
                keyword,
                path,
                operation,
            })
        } else if lookahead.peek(kw::grpc) {
            let keyword = input.parse::<kw::grpc>()?.span;
            let method = grpc_method(input)?;
            Ok(Entry::Grpc { keyword, method })
        } else if lookahead.peek(kw::amqp) {
            let keyword = input.parse::<kw::amqp>()?.span;
            let source = input.parse()?;
            Ok(Entry::Amqp { keyword, source })
        } else if lookahead.peek(kw::produce) {
            Err(input.error(
                "`produce` is a resource, not an entry: it follows an entry after `+`, \
                 as in `rest POST \"/orders\" + amqp produce \"orders\" => handler`",
            ))
        } else {
            let mut error = lookahead.error();
            error.combine(syn::Error::new(
                error.span(),
                "a binding starts with a protocol (`http`, `rest`, `ws`, `soap`, `grpc`, `amqp`) \
                 or declares shared state with `state Type`",
            ));
            Err(error)
        }
    }
}

impl Parse for Method {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(LitStr) {
            return Err(input.error("expected an HTTP method such as `GET` before the path"));
        }
        let ident: Ident = input
            .parse()
            .map_err(|e| syn::Error::new(e.span(), "expected an HTTP method such as `GET`"))?;
        let name = ident.to_string();
        if METHODS.contains(&name.as_str()) {
            return Ok(Method {
                name,
                span: ident.span(),
            });
        }
        let upper = name.to_ascii_uppercase();
        let message = if METHODS.contains(&upper.as_str()) {
            format!("HTTP methods are written in uppercase: expected `{upper}`, found `{name}`")
        } else {
            format!(
                "unknown HTTP method `{name}`, expected one of {}",
                METHODS.map(|m| format!("`{m}`")).join(", ")
            )
        };
        Err(syn::Error::new(ident.span(), message))
    }
}

impl Parse for PathTemplate {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if !input.peek(LitStr) {
            return Err(input.error("expected a path in quotes, such as \"/users/{id}\""));
        }
        let lit: LitStr = input.parse()?;
        let value = lit.value();
        let shape = path_shape(&value).map_err(|(range, message)| {
            let span = lit.token().subspan(range).unwrap_or_else(|| lit.span());
            syn::Error::new(span, message)
        })?;
        Ok(PathTemplate { lit, value, shape })
    }
}

/// Validates a path template and returns its shape, or the byte range of the
/// offending part (counted inside the quotes) with a message.
fn path_shape(path: &str) -> Result<String, (std::ops::Range<usize>, String)> {
    // The literal's first byte is the opening quote.
    let at = |start: usize, end: usize| (start + 1)..(end + 1);
    if !path.starts_with('/') {
        return Err((
            at(0, path.len().max(1)),
            format!("a path must start with `/`, found \"{path}\""),
        ));
    }
    let mut shape = String::with_capacity(path.len());
    let mut names: Vec<&str> = Vec::new();
    let mut rest = path;
    let mut offset = 0;
    while let Some(open) = rest.find(['{', '}']) {
        let start = offset + open;
        if rest.as_bytes()[open] == b'}' {
            return Err((at(start, start + 1), "unmatched `}` in the path".into()));
        }
        shape.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            return Err((
                at(start, path.len()),
                "unclosed `{` in the path: a parameter is written `{name}`".into(),
            ));
        };
        let inner = &rest[open + 1..open + close];
        let end = start + close + 1;
        let (catch_all, name) = match inner.strip_prefix('*') {
            Some(name) => (true, name),
            None => (false, inner),
        };
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
            && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric());
        if !valid {
            return Err((
                at(start, end),
                format!(
                    "invalid path parameter `{{{inner}}}`: a parameter name is an identifier, \
                     as in `{{id}}` or `{{*rest}}`"
                ),
            ));
        }
        if !rest[..open].ends_with('/') {
            return Err((
                at(start, end),
                format!("path parameter `{{{inner}}}` must fill a whole segment, right after `/`"),
            ));
        }
        let after = &rest[open + close + 1..];
        if catch_all && !after.is_empty() {
            return Err((
                at(start, end),
                format!("catch-all parameter `{{{inner}}}` must end the path"),
            ));
        }
        if !catch_all && !(after.is_empty() || after.starts_with('/')) {
            return Err((
                at(start, end),
                format!(
                    "path parameter `{{{inner}}}` must fill a whole segment, up to the next `/`"
                ),
            ));
        }
        if names.contains(&name) {
            return Err((
                at(start, end),
                format!("path parameter `{name}` appears twice in the path"),
            ));
        }
        names.push(name);
        shape.push_str(if catch_all { "{*}" } else { "{}" });
        offset = end;
        rest = after;
    }
    shape.push_str(rest);
    Ok(shape)
}

fn grpc_method(input: ParseStream<'_>) -> syn::Result<LitStr> {
    if !input.peek(LitStr) {
        return Err(
            input.error("expected a gRPC method in quotes, as in \"package.Service/Method\"")
        );
    }
    let lit: LitStr = input.parse()?;
    let value = lit.value();
    let ident = |s: &str| {
        s.chars()
            .next()
            .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
            && s.chars().all(|c| c == '_' || c.is_ascii_alphanumeric())
    };
    let valid = match value.split_once('/') {
        Some((service, method)) => service.split('.').all(ident) && ident(method),
        None => false,
    };
    if !valid {
        return Err(syn::Error::new(
            lit.span(),
            format!("invalid gRPC method \"{value}\", expected \"package.Service/Method\""),
        ));
    }
    Ok(lit)
}

impl Parse for AmqpSource {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let lookahead = input.lookahead1();
        if lookahead.peek(kw::consume) {
            input.parse::<kw::consume>()?;
            let queue = quoted(input, "the queue name")?;
            let exchange = if input.peek(kw::exchange) {
                Some(input.parse()?)
            } else {
                None
            };
            let prefetch = if input.peek(kw::prefetch) {
                input.parse::<kw::prefetch>()?;
                let n: LitInt = input.parse()?;
                if n.base10_parse::<u16>().map_or(true, |n| n == 0) {
                    return Err(syn::Error::new(
                        n.span(),
                        "prefetch must be between 1 and 65535",
                    ));
                }
                Some(n)
            } else {
                None
            };
            Ok(AmqpSource::Consume {
                queue,
                exchange,
                prefetch,
            })
        } else if lookahead.peek(kw::subscribe) {
            input.parse::<kw::subscribe>()?;
            let name = quoted(input, "the exchange name")?;
            let kind = exchange_kind(input)?;
            let key = routing_key(input)?;
            Ok(AmqpSource::Subscribe {
                exchange: ExchangeRef { name, kind, key },
            })
        } else {
            Err(lookahead.error())
        }
    }
}

impl Parse for ExchangeRef {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        input.parse::<kw::exchange>()?;
        let name = quoted(input, "the exchange name")?;
        let kind = exchange_kind(input)?;
        let key = routing_key(input)?;
        Ok(ExchangeRef { name, kind, key })
    }
}

fn exchange_kind(input: ParseStream<'_>) -> syn::Result<&'static str> {
    if input.peek(kw::fanout) {
        input.parse::<kw::fanout>()?;
        Ok("fanout")
    } else if input.peek(kw::direct) {
        input.parse::<kw::direct>()?;
        Ok("direct")
    } else {
        if input.peek(kw::topic) {
            input.parse::<kw::topic>()?;
        }
        Ok("topic")
    }
}

fn routing_key(input: ParseStream<'_>) -> syn::Result<Option<LitStr>> {
    if input.peek(kw::key) {
        input.parse::<kw::key>()?;
        return quoted(input, "the routing key").map(Some);
    }
    Ok(None)
}

fn quoted(input: ParseStream<'_>, what: &str) -> syn::Result<LitStr> {
    if input.peek(LitStr) {
        return input.parse();
    }
    Err(input.error(format!("expected {what} in quotes")))
}

impl Parse for Resource {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let span = input.span();
        if input.peek(kw::amqp) {
            input.parse::<kw::amqp>()?;
        }
        let lookahead = input.lookahead1();
        let kind = if lookahead.peek(kw::produce) {
            input.parse::<kw::produce>()?;
            let target = if input.peek(kw::exchange) {
                ProduceTarget::Exchange(input.parse()?)
            } else {
                ProduceTarget::Queue(quoted(input, "the queue name or `exchange \"name\"`")?)
            };
            let instantly = if input.peek(kw::instantly) {
                input.parse::<kw::instantly>()?;
                true
            } else {
                if input.peek(kw::once_finished) {
                    input.parse::<kw::once_finished>()?;
                }
                false
            };
            let name = if input.peek(Token![as]) {
                input.parse::<Token![as]>()?;
                Some(input.parse()?)
            } else {
                None
            };
            ResourceKind::Produce {
                target,
                instantly,
                name,
            }
        } else if lookahead.peek(kw::consume) || lookahead.peek(kw::subscribe) {
            ResourceKind::Source(input.parse()?)
        } else {
            return Err(lookahead.error());
        };
        Ok(Resource { span, kind })
    }
}

impl Entry {
    /// The span to blame for the entry as a whole.
    pub(crate) fn span(&self) -> Span {
        match self {
            Entry::Http(http) => http.method.span,
            Entry::Ws { keyword, .. }
            | Entry::Soap { keyword, .. }
            | Entry::Grpc { keyword, .. }
            | Entry::Amqp { keyword, .. } => *keyword,
        }
    }
}

impl Binding {
    pub(crate) fn handler_span(&self) -> Span {
        self.handler.span()
    }
}

#[cfg(test)]
mod tests {
    use super::path_shape;

    #[test]
    fn shapes_erase_parameter_names() {
        assert_eq!(path_shape("/users/{id}").unwrap(), "/users/{}");
        assert_eq!(path_shape("/a/{x}/b/{*rest}").unwrap(), "/a/{}/b/{*}");
        assert_eq!(path_shape("/").unwrap(), "/");
    }

    #[test]
    fn bad_templates_point_at_the_bad_part() {
        let (range, message) = path_shape("/users/{1d}").unwrap_err();
        assert_eq!(range, 8..12);
        assert!(message.contains("{1d}"), "{message}");
        assert!(
            path_shape("users")
                .unwrap_err()
                .1
                .contains("start with `/`")
        );
        assert!(path_shape("/a/{id").unwrap_err().1.contains("unclosed"));
        assert!(path_shape("/a/id}").unwrap_err().1.contains("unmatched"));
        assert!(
            path_shape("/a/{*rest}/b")
                .unwrap_err()
                .1
                .contains("must end")
        );
        assert!(
            path_shape("/a/x{id}")
                .unwrap_err()
                .1
                .contains("whole segment")
        );
        assert!(
            path_shape("/a/{id}x")
                .unwrap_err()
                .1
                .contains("whole segment")
        );
        assert!(path_shape("/a/{id}/{id}").unwrap_err().1.contains("twice"));
        assert!(path_shape("/a/{}").unwrap_err().1.contains("invalid"));
    }
}
