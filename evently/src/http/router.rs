//! Finding the handler of a request: path through `matchit`, then method.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::header::{self, HeaderValue};
use http::{Method, Request, StatusCode};
use http_body::Body as _;

use super::handler::{BoxedHandler, ResponseFuture};
use super::{Body, IntoResponse, Problem, RequestBody, RequestParts, Response};
use crate::amqp::Readiness;
use crate::contracts::Documents;
use crate::metrics::{Metrics, RouteStats};
use crate::topology::{Binding, Protocol};

pub(crate) struct Router {
    paths: matchit::Router<Endpoint>,
    body_limit: usize,
    readiness: Readiness,
    metrics: Arc<Metrics>,
    documents: Documents,
    /// Requests that reached no handler: no route, a method not allowed,
    /// `OPTIONS`, a path parameter that is not UTF-8.
    unhandled: Arc<RouteStats>,
}

/// Where evently answers probes, outside the user's routes.
const HEALTH: &str = "/_evently/health";
const READY: &str = "/_evently/ready";
const METRICS: &str = "/_evently/metrics";
const OPENAPI: &str = "/_evently/openapi.json";
const ASYNCAPI: &str = "/_evently/asyncapi.json";
const TOPOLOGY: &str = "/_evently/topology";
const DOCS: &str = "/_evently/docs";

/// Swagger UI over the OpenAPI document; the browser loads the UI itself
/// from a CDN.
const DOCS_PAGE: &str = "<!doctype html>\n<html><head><meta charset=\"utf-8\">\
<title>API</title><link rel=\"stylesheet\" \
href=\"https://unpkg.com/swagger-ui-dist@5/swagger-ui.css\"></head><body>\
<div id=\"ui\"></div><script src=\"https://unpkg.com/swagger-ui-dist@5/swagger-ui-bundle.js\">\
</script><script>SwaggerUIBundle({url: \"openapi.json\", dom_id: \"#ui\"});</script>\
</body></html>\n";

/// Every binding on one path template.
struct Endpoint {
    routes: Vec<Route>,
    /// The `Allow` header: the bound methods, plus `HEAD` and `OPTIONS`.
    allow: HeaderValue,
    rest: bool,
}

struct Route {
    method: Method,
    handler: BoxedHandler,
    binding: &'static Binding,
    params: Vec<&'static str>,
    stats: Arc<RouteStats>,
}

impl Router {
    /// Builds the router, reporting every route `matchit` refuses at once.
    pub(crate) fn new(
        routes: Vec<(&'static Binding, BoxedHandler)>,
        body_limit: usize,
        readiness: Readiness,
        metrics: Arc<Metrics>,
        documents: Documents,
    ) -> Result<Self, Vec<String>> {
        let mut by_path: HashMap<&'static str, Vec<Route>> = HashMap::new();
        let mut order = Vec::new();
        for (binding, handler) in routes {
            let (Some(method), Some(path)) = (binding.method(), binding.path()) else {
                unreachable!("only HTTP bindings are routed");
            };
            let stats = metrics.route(method, path);
            let method =
                Method::from_bytes(method.as_bytes()).expect("the macro only emits known methods");
            let params = param_names(path);
            let entry = by_path.entry(path).or_insert_with(|| {
                order.push(path);
                Vec::new()
            });
            // A SOAP service also answers `GET ?wsdl`.
            if binding.protocol() == Protocol::Soap {
                entry.push(Route {
                    method: Method::GET,
                    handler: handler.clone(),
                    binding,
                    params: params.clone(),
                    stats: metrics.route("GET", path),
                });
            }
            entry.push(Route {
                method,
                handler,
                binding,
                params,
                stats,
            });
        }
        let mut paths = matchit::Router::new();
        let mut problems = Vec::new();
        for path in order {
            let routes = by_path.remove(path).unwrap_or_default();
            let mut allow: Vec<&str> = routes.iter().map(|r| r.method.as_str()).collect();
            for implied in ["HEAD", "OPTIONS"] {
                let implied_by_get = implied == "HEAD" && allow.contains(&"GET");
                if (implied_by_get || implied == "OPTIONS") && !allow.contains(&implied) {
                    allow.push(implied);
                }
            }
            let endpoint = Endpoint {
                rest: routes
                    .iter()
                    .any(|r| r.binding.protocol() == Protocol::Rest),
                allow: HeaderValue::from_str(&allow.join(", ")).expect("method names are ASCII"),
                routes,
            };
            if let Err(error) = paths.insert(path, endpoint) {
                problems.push(format!("route \"{path}\": {error}"));
            }
        }
        if problems.is_empty() {
            Ok(Router {
                paths,
                body_limit,
                readiness,
                unhandled: metrics.route("", ""),
                metrics,
                documents,
            })
        } else {
            Err(problems)
        }
    }

    pub(crate) fn dispatch(&self, req: Request<RequestBody>) -> HttpFuture {
        let started = Instant::now();
        match self.route(req, started) {
            Routed::Handler(running) => running,
            Routed::Answer(response) => {
                self.unhandled.record(response.status(), started.elapsed());
                HttpFuture::ready(response)
            }
            // Probes are not counted.
            Routed::Probe(response) => HttpFuture::ready(response),
        }
    }

    /// The handler's future, or the answer when no handler runs.
    fn route(&self, req: Request<RequestBody>, started: Instant) -> Routed {
        let (head, body) = req.into_parts();
        let Ok(matched) = self.paths.at(head.uri.path()) else {
            if let Some(response) = self.probe(head.uri.path()) {
                return Routed::Probe(response);
            }
            if crate::grpc::is_grpc(&head.headers) {
                return Routed::Answer(crate::grpc::unimplemented(head.uri.path()));
            }
            return Routed::Answer(not_found(&head.headers));
        };
        let endpoint = matched.value;
        let mut values = Vec::with_capacity(matched.params.len());
        for (_, raw) in matched.params.iter() {
            match percent_encoding::percent_decode_str(raw).decode_utf8() {
                Ok(value) => values.push(value.into_owned()),
                Err(_) => {
                    let problem = Problem::bad_request("a path parameter is not valid UTF-8");
                    return Routed::Answer(problem.into_response_for(endpoint.rest));
                }
            }
        }

        // HEAD is answered by GET when it has no handler of its own; the body
        // is dropped on the way out.
        let find = |method: &Method| endpoint.routes.iter().find(|r| r.method == method);
        let (route, head_only) = match find(&head.method) {
            Some(route) => (route, false),
            None if head.method == Method::HEAD => match find(&Method::GET) {
                Some(route) => (route, true),
                None => return Routed::Answer(not_allowed(endpoint)),
            },
            None if head.method == Method::OPTIONS => {
                let mut response = StatusCode::NO_CONTENT.into_response();
                response
                    .headers_mut()
                    .insert(header::ALLOW, endpoint.allow.clone());
                return Routed::Answer(response);
            }
            None => return Routed::Answer(not_allowed(endpoint)),
        };

        let binding = route.binding;
        let rest = binding.protocol() == Protocol::Rest;
        let span = tracing::debug_span!(
            "request",
            method = %head.method,
            route = binding.path().unwrap_or_default(),
            handler = binding.handler(),
        );
        let params = route.params.iter().copied().zip(values).collect();
        let parts = RequestParts {
            head,
            body: Some(body),
            params,
            body_limit: self.body_limit,
        };
        let future = if span.is_disabled() {
            (route.handler)(parts, rest)
        } else {
            span.in_scope(|| (route.handler)(parts, rest))
        };
        Routed::Handler(HttpFuture {
            state: State::Running {
                future,
                binding,
                rest,
                head_only,
                span,
                stats: Arc::clone(&route.stats),
                started,
            },
        })
    }
}

/// What routing a request came to.
enum Routed {
    /// A handler runs.
    Handler(HttpFuture),
    /// Answered without a handler.
    Answer(Response),
    /// Answered by a probe of evently's own.
    Probe(Response),
}

impl Router {
    /// Liveness answers 200 while the process serves; readiness answers 503
    /// while the broker is not connected or a subscription is not bound.
    fn probe(&self, path: &str) -> Option<Response> {
        match path {
            HEALTH => Some("ok\n".into_response()),
            DOCS => Some(super::Html(DOCS_PAGE).into_response()),
            OPENAPI | ASYNCAPI => {
                let document = if path == OPENAPI {
                    &self.documents.openapi
                } else {
                    &self.documents.asyncapi
                };
                let mut response = document.clone().into_response();
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                Some(response)
            }
            TOPOLOGY => Some(super::Html(self.documents.topology.clone()).into_response()),
            METRICS => {
                let mut response = self.metrics.render().into_response();
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                Some(response)
            }
            READY => Some(match self.readiness.not_ready() {
                None => "ready\n".into_response(),
                Some(reason) => {
                    (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")).into_response()
                }
            }),
            _ => None,
        }
    }
}

fn param_names(path: &'static str) -> Vec<&'static str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| name.trim_start_matches('*'))
        .collect()
}

fn wants_json(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"))
}

fn not_found(headers: &http::HeaderMap) -> Response {
    Problem::not_found("no route matches this path").into_response_for(wants_json(headers))
}

fn not_allowed(endpoint: &Endpoint) -> Response {
    let allowed = endpoint.allow.to_str().unwrap_or_default();
    let problem = Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("this path answers {allowed}"),
    );
    let mut response = problem.into_response_for(endpoint.rest);
    response
        .headers_mut()
        .insert(header::ALLOW, endpoint.allow.clone());
    response
}

/// The response to one request: ready at once, a handler running, or a
/// `tower` layer's future.
pub struct HttpFuture {
    state: State,
}

enum State {
    Ready(Option<Response>),
    Running {
        future: ResponseFuture,
        binding: &'static Binding,
        rest: bool,
        head_only: bool,
        span: tracing::Span,
        stats: Arc<RouteStats>,
        started: Instant,
    },
    Layered(ResponseFuture),
}

impl HttpFuture {
    fn ready(response: Response) -> Self {
        HttpFuture {
            state: State::Ready(Some(response)),
        }
    }

    pub(crate) fn layered(future: ResponseFuture) -> Self {
        HttpFuture {
            state: State::Layered(future),
        }
    }
}

impl Future for HttpFuture {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().state {
            State::Ready(response) => {
                Poll::Ready(Ok(response.take().expect("polled after completion")))
            }
            State::Layered(future) => future.as_mut().poll(cx).map(Ok),
            State::Running {
                future,
                binding,
                rest,
                head_only,
                span,
                stats,
                started,
            } => {
                let _entered = span.enter();
                // A panic in a handler fails its request, not the connection
                // or the server.
                let polled =
                    std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx)));
                let response = match polled {
                    Ok(Poll::Pending) => return Poll::Pending,
                    Ok(Poll::Ready(response)) if *head_only => strip_body(response),
                    Ok(Poll::Ready(response)) => response,
                    Err(panic) => {
                        let message = crate::panics::message(&*panic);
                        tracing::error!(
                            method = binding.method(),
                            route = binding.path().unwrap_or_default(),
                            handler = binding.handler(),
                            panic = message,
                            "handler panicked"
                        );
                        let problem = Problem::internal("the handler failed");
                        problem.into_response_for(*rest)
                    }
                };
                stats.record(response.status(), started.elapsed());
                Poll::Ready(Ok(response))
            }
        }
    }
}

/// A HEAD response keeps the GET response's headers, length included.
fn strip_body(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    if let Some(length) = body.size_hint().exact() {
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    Response::from_parts(parts, Body::empty())
}

#[cfg(test)]
mod tests {
    use super::param_names;

    #[test]
    fn parameter_names_in_path_order() {
        assert_eq!(param_names("/a/{x}/b/{*rest}"), ["x", "rest"]);
        assert!(param_names("/plain").is_empty());
    }
}
