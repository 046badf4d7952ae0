//! Tokens in, syntax tree out.
//!
//! The block is split at its top-level `;` first, and each item is parsed on
//! its own, so one malformed binding does not hide the mistakes in the others.
//! Whether the topology makes sense (conflicts, protocols not served yet) is
//! `check`'s business, not this module's.

use proc_macro2::{Delimiter, Punct, Spacing, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::token::Paren;
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

// Every span of the block is kept, for diagnostics, though not every one is
// pointed at yet.
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
}

// Every span of the block is kept, for diagnostics, though not every one is
// pointed at yet.
#[allow(dead_code)]
/// Where AMQP messages come from.
pub(crate) enum AmqpSource {
    /// `consume "queue" quorum? (exchange "name" (key "routing.key")?)?
    /// (prefetch N)? (attempts N)?`, the last two in either order: `quorum`
    /// declares a replicated quorum queue rather than a classic one.
    Consume {
        queue: LitStr,
        quorum: bool,
        exchange: Option<ExchangeRef>,
        prefetch: Option<LitInt>,
        attempts: Option<LitInt>,
    },
    /// `subscribe "exchange" (key "routing.key")?`: an exclusive queue bound
    /// to the exchange, living as long as the consumer.
    Subscribe { exchange: ExchangeRef },
}

// Every span of the block is kept, for diagnostics, though not every one is
// pointed at yet.
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

// Every span of the block is kept, for diagnostics, though not every one is
// pointed at yet.
#[allow(dead_code)]
pub(crate) enum ResourceKind {
    Produce {
        target: ProduceTarget,
        instantly: bool,
        name: Option<Ident>,
    },
    Source(AmqpSource),
}

// Every span of the block is kept, for diagnostics, though not every one is
// pointed at yet.
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

/// Splits the block after each top-level `;`, which stays the last token of
/// its item so that an item cut short is blamed on its `;`, not on the whole
/// block. A trailing item without `;` is an error; it is still parsed, ended
/// by a `;` spanned at its last token, so its other mistakes show too.
fn split_items(input: TokenStream, cx: &mut Ctxt) -> Vec<TokenStream> {
    let mut items = Vec::new();
    let mut current: Vec<TokenTree> = Vec::new();
    for tree in input {
        match &tree {
            TokenTree::Punct(p) if p.as_char() == ';' => {
                if current.is_empty() {
                    cx.error(
                        p.span(),
                        "unexpected `;`, expected a binding or a `state` declaration before it",
                    );
                } else {
                    current.push(tree);
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
        cx.error(span, "expected `;`, found the end of the block");
        let mut semi = Punct::new(';', Spacing::Alone);
        semi.set_span(span);
        current.push(semi.into());
        items.push(current.into_iter().collect());
    }
    items
}

/// How a diagnostic names the next token: `` `index` ``, `` `"/"` ``, `` `=>` ``.
fn found(input: ParseStream<'_>) -> String {
    for (peeked, text) in [
        (input.peek(Token![=>]), "=>"),
        (input.peek(Token![::]), "::"),
        (input.peek(Token![->]), "->"),
    ] {
        if peeked {
            return format!("`{text}`");
        }
    }
    match input.cursor().token_tree() {
        Some((TokenTree::Group(group), _)) => match group.delimiter() {
            Delimiter::Parenthesis => "`(`".into(),
            Delimiter::Bracket => "`[`".into(),
            Delimiter::Brace => "`{`".into(),
            Delimiter::None => format!("`{}`", group.stream()),
        },
        Some((tree, _)) => format!("`{tree}`"),
        None => "the end of the block".into(),
    }
}

/// An error at the next token: `expected …, found …`.
fn expected(input: ParseStream<'_>, what: impl std::fmt::Display) -> syn::Error {
    input.error(format!("expected {what}, found {}", found(input)))
}

enum Item {
    State(StateDecl),
    Binding(Binding),
}

impl Parse for Item {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(kw::state) {
            input.parse::<kw::state>()?;
            if input.peek(Token![;]) {
                return Err(expected(input, "a type after `state`"));
            }
            let ty = input.parse()?;
            if !input.peek(Token![;]) {
                return Err(expected(input, "`;` after the state type"));
            }
            input.parse::<Token![;]>()?;
            return Ok(Item::State(StateDecl { ty }));
        }
        let entry = input.parse()?;
        let mut resources = Vec::new();
        while input.peek(Token![+]) {
            input.parse::<Token![+]>()?;
            resources.push(input.parse()?);
        }
        if !input.peek(Token![=>]) {
            return Err(expected(
                input,
                "`=>` and the handler, or `+` and a resource",
            ));
        }
        input.parse::<Token![=>]>()?;
        if !(input.peek(Ident::peek_any) || input.peek(Token![::])) {
            return Err(expected(input, "the handler's name after `=>`"));
        }
        let handler: syn::Path = input.parse()?;
        if input.peek(Paren) {
            let name = handler.to_token_stream().to_string().replace(' ', "");
            return Err(input.error(format!(
                "expected the handler's name, found a call: write `{name}`, not `{name}(..)`"
            )));
        }
        if !input.peek(Token![;]) {
            return Err(syn::Error::new_spanned(
                &handler,
                format!("expected `;` after the handler, found {}", found(input)),
            ));
        }
        input.parse::<Token![;]>()?;
        Ok(Item::Binding(Binding {
            entry,
            resources,
            handler,
        }))
    }
}

impl Parse for Entry {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(kw::http) || input.peek(kw::rest) {
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
        } else if input.peek(kw::ws) {
            let keyword = input.parse::<kw::ws>()?.span;
            let path = input.parse()?;
            Ok(Entry::Ws { keyword, path })
        } else if input.peek(kw::soap) {
            let keyword = input.parse::<kw::soap>()?.span;
            let path = input.parse()?;
            if !input.peek(Ident) {
                return Err(expected(input, "the SOAP operation's name after the path"));
            }
            let operation = input.parse()?;
            Ok(Entry::Soap {
                keyword,
                path,
                operation,
            })
        } else if input.peek(kw::grpc) {
            let keyword = input.parse::<kw::grpc>()?.span;
            let method = grpc_method(input)?;
            Ok(Entry::Grpc { keyword, method })
        } else if input.peek(kw::amqp) {
            let keyword = input.parse::<kw::amqp>()?.span;
            let source = input.parse()?;
            Ok(Entry::Amqp { keyword, source })
        } else if input.peek(kw::produce) {
            Err(input.error(
                "`produce` is a resource, not an entry: it follows an entry after `+`, \
                 as in `rest POST \"/orders\" + amqp produce \"orders\" => handler`",
            ))
        } else {
            // Not `lookahead1`'s error: it would offer `produce` and not
            // `state`, and an HTTP method here deserves its own hint.
            let word = input.fork().call(Ident::parse_any).ok();
            match word {
                Some(word) if METHODS.contains(&word.to_string().to_ascii_uppercase().as_str()) => {
                    Err(input.error(format!(
                        "expected a protocol before `{word}`: \
                         `http {word}` serves pages and text, `rest {word}` serves JSON"
                    )))
                }
                _ => Err(expected(
                    input,
                    "a protocol (`http`, `rest`, `ws`, `soap`, `grpc`, `amqp`) or `state`",
                )),
            }
        }
    }
}

impl Parse for Method {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if !input.peek(Ident::peek_any) {
            return Err(expected(
                input,
                "an HTTP method such as `GET` before the path",
            ));
        }
        let ident = input.call(Ident::parse_any)?;
        let name = ident.to_string();
        if METHODS.contains(&name.as_str()) {
            return Ok(Method { name });
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
            return Err(expected(
                input,
                "a path in quotes, such as `\"/users/{id}\"`",
            ));
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
            format!("a path starts with `/`: expected `\"/{path}\"`, found `\"{path}\"`"),
        ));
    }
    let mut shape = String::with_capacity(path.len());
    let mut names: Vec<&str> = Vec::new();
    let mut rest = path;
    let mut offset = 0;
    while let Some(open) = rest.find(['{', '}']) {
        let start = offset + open;
        if rest.as_bytes()[open] == b'}' {
            return Err((
                at(start, start + 1),
                "unmatched `}` in the path: a parameter is written `{name}`".into(),
            ));
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
                format!(
                    "catch-all parameter `{{{inner}}}` must end the path, found `{after}` after it"
                ),
            ));
        }
        if !(catch_all || after.is_empty() || after.starts_with('/')) {
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
                format!(
                    "path parameter `{name}` appears twice in the path; \
                     each parameter needs a name of its own"
                ),
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
        return Err(expected(
            input,
            "a gRPC method in quotes, such as `\"package.Service/Method\"`",
        ));
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
            format!(
                "expected a gRPC method such as `\"package.Service/Method\"`, found `\"{value}\"`"
            ),
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
            let quorum = input.peek(kw::quorum);
            if quorum {
                input.parse::<kw::quorum>()?;
            }
            let exchange = if input.peek(kw::exchange) {
                Some(input.parse()?)
            } else {
                None
            };
            let (mut prefetch, mut attempts) = (None, None);
            loop {
                if input.peek(kw::prefetch) {
                    let word = input.parse::<kw::prefetch>()?;
                    let n = once(prefetch.is_none(), word.span, "prefetch", input)?;
                    if n.base10_parse::<u16>().map_or(true, |n| n == 0) {
                        return Err(syn::Error::new(
                            n.span(),
                            "prefetch must be between 1 and 65535",
                        ));
                    }
                    prefetch = Some(n);
                } else if input.peek(kw::attempts) {
                    let word = input.parse::<kw::attempts>()?;
                    let n = once(attempts.is_none(), word.span, "attempts", input)?;
                    if n.base10_parse::<u32>().map_or(true, |n| n == 0) {
                        return Err(syn::Error::new(
                            n.span(),
                            "attempts must be between 1 and 4294967295: 1 dead-letters a \
                             message the first time its handler fails",
                        ));
                    }
                    attempts = Some(n);
                } else {
                    break;
                }
            }
            Ok(AmqpSource::Consume {
                queue,
                quorum,
                exchange,
                prefetch,
                attempts,
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

/// The number after `word`, which the binding may give only once.
fn once(first: bool, word: Span, what: &str, input: ParseStream<'_>) -> syn::Result<LitInt> {
    if !first {
        return Err(syn::Error::new(word, format!("`{what}` is given twice")));
    }
    input.parse()
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
    Err(expected(input, format_args!("{what} in quotes")))
}

impl Parse for Resource {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(kw::amqp) {
            input.parse::<kw::amqp>()?;
        }
        // The resource's own word (`produce`, `consume`, `subscribe`) is
        // what diagnostics about the resource point at.
        let span = input.span();
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
                .contains("starts with `/`")
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
