//! What handlers return.

use std::borrow::Cow;
use std::convert::Infallible;

use bytes::Bytes;
use http::StatusCode;
use http::header::{self, HeaderValue};
use serde::Serialize;

use super::{Body, Json};

/// An HTTP response with evently's body.
pub type Response = http::Response<Body>;

const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
const HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
const JSON: HeaderValue = HeaderValue::from_static("application/json");
const PROBLEM: HeaderValue = HeaderValue::from_static("application/problem+json");

/// A value a handler can answer with.
///
/// `String` and `&str` answer `text/plain`, [`Html`] answers `text/html`,
/// [`Json`] answers `application/json`, a [`StatusCode`] answers with an empty
/// body, `(StatusCode, T)` sets the status of `T`'s response, and a `Result`
/// answers with whichever side it holds.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent as an HTTP response",
    label = "not a response",
    note = "return `String` or `&'static str` (text), `Html<T>` (a page), `Json<T>` (JSON), \
            `StatusCode`, `(StatusCode, T)`, `Problem`, or a `Result` of those"
)]
pub trait IntoResponse {
    /// Turns the value into a response.
    fn into_response(self) -> Response;

    /// Tells the service's OpenAPI document what this value answers.
    /// Responses of your own may leave it out.
    #[doc(hidden)]
    fn describe(describe: &mut crate::openapi::Describe) {
        describe.response("default", "");
    }
}

/// An HTML page.
#[derive(Clone, Copy, Debug, Default)]
pub struct Html<T>(pub T);

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

impl IntoResponse for Infallible {
    fn into_response(self) -> Response {
        match self {}
    }
}

impl IntoResponse for () {
    fn into_response(self) -> Response {
        Response::new(Body::empty())
    }

    fn describe(describe: &mut crate::openapi::Describe) {
        describe.response("200", "");
    }
}

impl IntoResponse for StatusCode {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = self;
        response
    }
}

fn with_type(body: impl Into<Body>, content_type: HeaderValue) -> Response {
    let mut response = Response::new(body.into());
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    response
}

impl IntoResponse for &'static str {
    fn into_response(self) -> Response {
        with_type(self, TEXT)
    }

    fn describe(describe: &mut crate::openapi::Describe) {
        describe.response("200", "text/plain");
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Response {
        with_type(self, TEXT)
    }

    fn describe(describe: &mut crate::openapi::Describe) {
        describe.response("200", "text/plain");
    }
}

impl IntoResponse for Cow<'static, str> {
    fn into_response(self) -> Response {
        match self {
            Cow::Borrowed(text) => text.into_response(),
            Cow::Owned(text) => text.into_response(),
        }
    }

    fn describe(describe: &mut crate::openapi::Describe) {
        describe.response("200", "text/plain");
    }
}

impl IntoResponse for Bytes {
    fn into_response(self) -> Response {
        with_type(self, HeaderValue::from_static("application/octet-stream"))
    }

    fn describe(describe: &mut crate::openapi::Describe) {
        describe.response("200", "application/octet-stream");
    }
}

impl IntoResponse for Vec<u8> {
    fn into_response(self) -> Response {
        Bytes::from(self).into_response()
    }

    fn describe(describe: &mut crate::openapi::Describe) {
        describe.response("200", "application/octet-stream");
    }
}

impl<T: Into<Body>> IntoResponse for Html<T> {
    fn into_response(self) -> Response {
        with_type(self.0, HTML)
    }

    fn describe(describe: &mut crate::openapi::Describe) {
        describe.response("200", "text/html");
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        let mut buffer = Vec::with_capacity(128);
        match serde_json::to_writer(&mut buffer, &self.0) {
            Ok(()) => with_type(buffer, JSON),
            Err(error) => {
                tracing::error!(error = %error, "response could not be serialized to JSON");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the response could not be encoded",
                )
                .into_response()
            }
        }
    }

    fn describe(describe: &mut crate::openapi::Describe) {
        describe.response("200", "application/json");
    }
}

impl<T: IntoResponse> IntoResponse for (StatusCode, T) {
    fn into_response(self) -> Response {
        let mut response = self.1.into_response();
        *response.status_mut() = self.0;
        response
    }

    fn describe(describe: &mut crate::openapi::Describe) {
        describe.with_any_status(T::describe);
    }
}

impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response {
        match self {
            Ok(value) => value.into_response(),
            Err(error) => error.into_response(),
        }
    }

    fn describe(describe: &mut crate::openapi::Describe) {
        T::describe(describe);
        E::describe(describe);
    }
}

/// An error answer, sent as `application/problem+json` (RFC 9457).
///
/// Extractors refuse requests with a `Problem`; `rest` handlers return one in
/// the `Err` of a `Result`. Behind an `http` binding, the extractors' problems
/// are sent as plain text instead.
///
/// ```
/// use evently::http::{Json, Problem};
///
/// async fn find(id: u32) -> Result<Json<String>, Problem> {
///     Err(Problem::not_found(format!("no user {id}")))
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Problem {
    status: StatusCode,
    detail: Cow<'static, str>,
    field: Option<String>,
}

impl Problem {
    /// A problem with a status and a sentence for the caller.
    pub fn new(status: StatusCode, detail: impl Into<Cow<'static, str>>) -> Self {
        Problem {
            status,
            detail: detail.into(),
            field: None,
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 404: nothing is there.
    pub fn not_found(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    /// 422: the request is well formed but its content is not acceptable.
    pub fn unprocessable(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
    }

    /// 500: the service failed.
    pub fn internal(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, detail)
    }

    /// Names the request field at fault, sent as the `field` member.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// The status of the answer.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The sentence for the caller.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The request field at fault, when one is known.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// The problem as plain text, for clients of `http` bindings.
    pub(crate) fn into_text_response(self) -> Response {
        let mut response = with_type(format!("{}\n", self.detail), TEXT);
        *response.status_mut() = self.status;
        response
    }

    /// The problem in the form the binding's clients expect.
    pub(crate) fn into_response_for(self, rest: bool) -> Response {
        if rest {
            self.into_response()
        } else {
            self.into_text_response()
        }
    }
}

#[derive(Serialize)]
struct ProblemDocument<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    status: u16,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let document = ProblemDocument {
            kind: "about:blank",
            title: self.status.canonical_reason().unwrap_or("Error"),
            status: self.status.as_u16(),
            detail: &self.detail,
            field: self.field.as_deref(),
        };
        let body = serde_json::to_vec(&document).unwrap_or_default();
        let mut response = with_type(body, PROBLEM);
        *response.status_mut() = self.status;
        response
    }

    fn describe(describe: &mut crate::openapi::Describe) {
        describe.response("4XX", "application/problem+json");
        describe.response("5XX", "application/problem+json");
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.detail)
    }
}

impl std::error::Error for Problem {}
