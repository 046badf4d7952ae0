//! SOAP: operations typed with serde, SOAP 1.1 and 1.2 envelopes over HTTP
//! POST, faults, and a WSDL at `GET <path>?wsdl`.
//!
//! Every `soap "/path" Operation` binding of a block on the same path is one
//! SOAP service, served on the HTTP listener. A request's operation is the
//! one its action names (the `SOAPAction` header in 1.1, the `action`
//! parameter of the content type in 1.2), or, without an action, the one
//! named by the Body's first child element. Operations are document/literal
//! wrapped: the request element is named after the operation
//! (`<Add><a>1</a><b>2</b></Add>`), the response element gets `Response`
//! appended (`<AddResponse><result>3</result></AddResponse>`), both in the
//! service's target namespace, `urn:evently` followed by the path with `/`
//! turned into `:` (`urn:evently:soap:calculator` for `/soap/calculator`).
//! Their children are unqualified. The action of an operation is the
//! namespace, `/` and the operation's name.
//!
//! Limits: the request body is capped by the configured body limit, and
//! elements may nest [`MAX_DEPTH`] deep. A DOCTYPE, an entity other than the
//! predefined ones, or a processing instruction is refused before anything
//! is decoded; nothing is ever read from the filesystem or the network. See
//! `envelope` for the scan.
//!
//! Errors are faults: a request that is not a SOAP envelope, not
//! well-formed, unsafe, for an unknown operation or undecodable gets a
//! client fault naming what was wrong; a handler's [`Fault`] is sent as it
//! is; any other handler error, and a panic, becomes a server fault and is
//! logged.

mod envelope;
mod fault;
mod handler;
mod wsdl;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt as _;
use http::header::{self, HeaderValue};
use http::{Method, StatusCode};
use tracing::Instrument as _;

use crate::http::{Body, BoxedHandler, RequestParts, Response, ResponseFuture, correlation_id};

pub use fault::{Fault, IntoFault};
pub use handler::{SoapFuture, SoapHandler, SoapOutput};

pub use envelope::MAX_DEPTH;
pub(crate) use handler::{Operation, UnboundOperation, unbound};

use envelope::Version;

/// The target namespace of the SOAP service at `path`.
pub(crate) fn namespace(path: &str) -> String {
    let mut namespace = String::from("urn:evently");
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        namespace.push(':');
        namespace.push_str(segment);
    }
    namespace
}

/// The action of `operation` in the service of namespace `namespace`.
pub(crate) fn action(namespace: &str, operation: &str) -> String {
    format!("{namespace}/{operation}")
}

/// The service's name in its WSDL: the path's last segment, capitalized.
fn service_name(path: &str) -> String {
    let last = path
        .split('/')
        .rev()
        .find(|s| !s.is_empty())
        .unwrap_or_default();
    let mut name: String = last.chars().filter(char::is_ascii_alphanumeric).collect();
    if let Some(first) = name.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert_str(0, "Service");
    }
    name
}

/// The operations of one path, served together.
struct Service {
    path: &'static str,
    namespace: String,
    operations: Vec<(String, Operation)>,
    /// The WSDL cut where the endpoint's address goes.
    wsdl: Vec<String>,
}

/// Builds the handler answering every operation at `path`: POST for calls,
/// `GET ?wsdl` for the WSDL.
///
/// # Errors
///
/// When the operations' types cannot be described in a WSDL.
pub(crate) fn endpoint(
    path: &'static str,
    operations: Vec<Operation>,
) -> Result<BoxedHandler, String> {
    let namespace = namespace(path);
    let wsdl = wsdl::document(&service_name(path), &namespace, &operations)
        .map_err(|error| format!("soap \"{path}\": {error}"))?;
    let operations = operations
        .into_iter()
        .map(|operation| (action(&namespace, operation.name), operation))
        .collect();
    let service = Arc::new(Service {
        path,
        namespace,
        operations,
        wsdl: wsdl.split(wsdl::ADDRESS).map(str::to_owned).collect(),
    });
    Ok(Arc::new(move |req: RequestParts, _rest| {
        if req.head.method == Method::GET {
            return Box::pin(std::future::ready(service.describe(&req)));
        }
        Arc::clone(&service).call(req)
    }))
}

impl Service {
    /// Answers `GET ?wsdl` with the WSDL, its address the request's host.
    fn describe(&self, req: &RequestParts) -> Response {
        let asks_wsdl = req
            .head
            .uri
            .query()
            .is_some_and(|q| q.split('&').any(|p| p.eq_ignore_ascii_case("wsdl")));
        if !asks_wsdl {
            let text = "this SOAP service answers POST requests; its WSDL is at `?wsdl`\n";
            return respond(
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                text.into(),
            );
        }
        let host = req
            .head
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| req.head.uri.authority().map(|a| a.as_str()))
            .unwrap_or("localhost");
        let address = format!("http://{host}{}", self.path);
        let address = quick_xml::escape::escape(address.as_str());
        let document = self.wsdl.join(&address);
        respond(StatusCode::OK, "text/xml; charset=utf-8", document)
    }

    /// Answers a call: check the envelope, pick the operation, run it.
    fn call(self: Arc<Self>, mut req: RequestParts) -> ResponseFuture {
        let content_type = req
            .head
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let Some((version, action)) = Version::from_content_type(content_type) else {
            // The version cannot be told: answer in 1.1, with the status
            // that says what was wrong.
            let fault = Fault::client(format!(
                "expected the content type `text/xml` (SOAP 1.1) or `application/soap+xml` \
                 (SOAP 1.2), found `{content_type}`"
            ));
            let mut response = fault_response(&fault, Version::Soap11);
            *response.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
            return Box::pin(std::future::ready(response));
        };
        let action = match version {
            Version::Soap12 => action,
            Version::Soap11 => req
                .head
                .headers
                .get("soapaction")
                .and_then(|v| v.to_str().ok())
                .map(|v| envelope::unquote(v).to_owned()),
        }
        .filter(|a| !a.is_empty());
        let correlation_id = correlation_id(&req);

        let answer = async move {
            let body = req
                .read_body()
                .await
                .map_err(|problem| Fault::client(problem.detail().to_owned()))?;
            let xml = std::str::from_utf8(&body)
                .map_err(|_| Fault::client("the request is not UTF-8"))?;
            let element = envelope::scan(xml, version)?;
            let operation = self.operation(action.as_deref(), element.name)?;
            let span = tracing::debug_span!("soap", operation = operation.name);
            let future = span.in_scope(|| (operation.call)(element.xml, correlation_id));
            let body = future.instrument(span).await?;
            Ok::<_, Fault>(envelope::response(version, &self.namespace, &body))
        };
        Box::pin(async move {
            // A panic fails its request with a server fault; the server
            // keeps serving.
            match AssertUnwindSafe(answer).catch_unwind().await {
                Ok(Ok(envelope)) => respond(StatusCode::OK, version.content_type(), envelope),
                Ok(Err(fault)) => fault_response(&fault, version),
                Err(panic) => {
                    let message = crate::panics::message(&*panic);
                    tracing::error!(panic = message, "soap handler panicked");
                    let fault = Fault::server("the service failed to carry out the operation");
                    fault_response(&fault, version)
                }
            }
        })
    }

    /// The operation a request is for: the one its action names, else the
    /// one its Body's element names.
    fn operation(&self, action: Option<&str>, element: &str) -> Result<&Operation, Fault> {
        let served = || {
            let names: Vec<_> = self.operations.iter().map(|(_, o)| o.name).collect();
            names.join("`, `")
        };
        let operation = match action {
            Some(action) => self
                .operations
                .iter()
                .find(|(full, operation)| full == action || operation.name == action)
                .map(|(_, operation)| operation)
                .ok_or_else(|| {
                    Fault::client(format!(
                        "the action `{action}` names no operation of this service; it serves \
                         `{}`",
                        served()
                    ))
                })?,
            None => self
                .operations
                .iter()
                .map(|(_, operation)| operation)
                .find(|operation| operation.name == element)
                .ok_or_else(|| {
                    Fault::client(format!(
                        "`{element}` is not an operation of this service; it serves `{}`",
                        served()
                    ))
                })?,
        };
        if operation.name != element {
            return Err(Fault::client(format!(
                "the action names the operation `{}`, but the Body holds a `{element}` element",
                operation.name
            )));
        }
        Ok(operation)
    }
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn fault_response(fault: &Fault, version: Version) -> Response {
    respond(
        fault.status(version),
        version.content_type(),
        fault.to_envelope(version),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_path() {
        assert_eq!(namespace("/soap/calculator"), "urn:evently:soap:calculator");
        assert_eq!(namespace("/"), "urn:evently");
        assert_eq!(service_name("/soap/calculator"), "Calculator");
        assert_eq!(service_name("/"), "Service");
        assert_eq!(action("urn:evently:calc", "Add"), "urn:evently:calc/Add");
    }
}
