//! What handlers take: values extracted from the request.

use std::future::Future;

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap};
use http::request::Parts;
use http::{Method, StatusCode, Uri};
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

use super::path_de::PathDeserializer;
use super::{Problem, RequestBody};
use crate::state::HasState;

/// A request on its way into a handler: the head, the body until an
/// extractor takes it, and the matched path parameters.
#[derive(Debug)]
pub struct RequestParts {
    pub(crate) head: Parts,
    pub(crate) body: Option<RequestBody>,
    pub(crate) params: Vec<(&'static str, String)>,
    pub(crate) body_limit: usize,
}

impl RequestParts {
    /// The request line and headers.
    pub fn head(&self) -> &Parts {
        &self.head
    }

    /// The path parameters, named as in the path template.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(k, v)| (*k, v.as_str()))
    }

    /// Reads the whole body, refusing more than the configured limit.
    ///
    /// # Errors
    ///
    /// 413 when the body is over the limit, 400 when it cannot be read or an
    /// earlier extractor already read it.
    pub async fn read_body(&mut self) -> Result<Bytes, Problem> {
        let limit = self.body_limit;
        let too_large = || {
            Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is larger than the limit of {limit} bytes"),
            )
        };
        if let Some(length) = content_length(&self.head.headers)
            && length > limit as u64
        {
            return Err(too_large());
        }
        let mut body = self.body.take().ok_or_else(|| {
            Problem::internal("the request body was already read by another parameter")
        })?;
        let mut buffer = BytesMut::new();
        let mut single: Option<Bytes> = None;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                tracing::debug!(error = %e, "request body could not be read");
                Problem::bad_request("the request body could not be read")
            })?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            let read = buffer.len() + single.as_ref().map_or(0, Bytes::len) + data.len();
            if read > limit {
                return Err(too_large());
            }
            // A body that arrives in one frame is passed on without a copy.
            match single.take() {
                None if buffer.is_empty() => single = Some(data),
                None => buffer.extend_from_slice(&data),
                Some(first) => {
                    buffer.extend_from_slice(&first);
                    buffer.extend_from_slice(&data);
                }
            }
        }
        Ok(single.unwrap_or_else(|| buffer.freeze()))
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// A value built from the request before the handler runs.
///
/// Implement it for your own types (an authenticated user, say); refuse the
/// request with a [`Problem`]. At most one parameter of a handler may read the
/// body (`READS_BODY`); the macro's generated code checks this when it
/// compiles.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be extracted from an HTTP request",
    label = "not an extractor",
    note = "handler parameters are extractors: `Json<T>`, `Path<T>`, `Query<T>`, `State<T>`, \
            `HeaderMap`, `Method`, `Uri`, `String` or `Bytes`"
)]
pub trait FromRequest<S>: Sized {
    /// Whether this extractor consumes the body.
    const READS_BODY: bool = false;

    /// Extracts the value, or refuses the request.
    fn from_request(
        req: &mut RequestParts,
        state: &S,
    ) -> impl Future<Output = Result<Self, Problem>> + Send;

    /// Tells the service's OpenAPI document what this extractor reads.
    /// Extractors of your own may leave it out.
    #[doc(hidden)]
    fn describe(_describe: &mut crate::openapi::Describe) {}
}

/// A JSON body in, or a JSON body out.
///
/// As an extractor it requires `content-type: application/json` (415
/// otherwise), refuses malformed JSON with 400 and JSON that does not fit `T`
/// with 422 naming the field.
#[derive(Clone, Copy, Debug, Default)]
pub struct Json<T>(pub T);

impl<S: Sync, T: DeserializeOwned + Send> FromRequest<S> for Json<T> {
    const READS_BODY: bool = true;

    async fn from_request(req: &mut RequestParts, _state: &S) -> Result<Self, Problem> {
        if !is_json(&req.head.headers) {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected a body with `content-type: application/json`",
            ));
        }
        let body = req.read_body().await?;
        decode_json(&body).map(Json)
    }

    fn describe(describe: &mut crate::openapi::Describe) {
        describe.json_body::<T>();
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return false;
    };
    // What nearly every client sends, answered without parsing.
    if value == "application/json" {
        return true;
    }
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json")
            || subtype.len() > 5 && subtype[subtype.len() - 5..].eq_ignore_ascii_case("+json"))
}

/// Decodes JSON, telling malformed text (400) from a value that does not fit
/// the type (422, with the path of the field at fault).
pub(crate) fn decode_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    // Tracking the path slows every decode down, and only a refusal needs
    // it: decode plainly, and decode again with tracking to explain an error.
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
    let malformed =
        |error: serde_json::Error| Problem::bad_request(format!("malformed JSON: {error}"));
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if !inner.is_data() {
            return malformed(inner);
        }
        let field = if path == "." {
            missing_field(&inner)
        } else {
            Some(path)
        };
        let detail = match &field {
            Some(field) => format!("invalid field `{field}`: {inner}"),
            None => format!("invalid JSON value: {inner}"),
        };
        let problem = Problem::unprocessable(detail);
        match field {
            Some(field) => problem.with_field(field),
            None => problem,
        }
    })?;
    deserializer.end().map_err(malformed)?;
    Ok(value)
}

/// serde reports a missing field on the struct that lacks it; name the field.
fn missing_field(error: &serde_json::Error) -> Option<String> {
    let message = error.to_string();
    let rest = message.strip_prefix("missing field `")?;
    Some(rest[..rest.find('`')?].to_owned())
}

/// The path parameters, deserialized: a plain value for one parameter, a
/// tuple or struct for several. A value that does not parse gets 400.
#[derive(Clone, Copy, Debug, Default)]
pub struct Path<T>(pub T);

impl<S: Sync, T: DeserializeOwned + Send> FromRequest<S> for Path<T> {
    async fn from_request(req: &mut RequestParts, _state: &S) -> Result<Self, Problem> {
        T::deserialize(PathDeserializer {
            params: &req.params,
        })
        .map(Path)
        .map_err(|error| {
            let problem = Problem::bad_request(error.message);
            match error.field {
                Some(field) => problem.with_field(field),
                None => problem,
            }
        })
    }

    fn describe(describe: &mut crate::openapi::Describe) {
        describe.path::<T>();
    }
}

/// The query string, deserialized. A query that does not fit `T` gets 400.
#[derive(Clone, Copy, Debug, Default)]
pub struct Query<T>(pub T);

impl<S: Sync, T: DeserializeOwned + Send> FromRequest<S> for Query<T> {
    async fn from_request(req: &mut RequestParts, _state: &S) -> Result<Self, Problem> {
        let query = req.head.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query)
            .map(Query)
            .map_err(|e| Problem::bad_request(format!("invalid query string: {e}")))
    }

    fn describe(describe: &mut crate::openapi::Describe) {
        describe.query::<T>();
    }
}

/// Shared state declared in the block with `state T;`.
///
/// Asking for state of a type the block does not declare is a compile error.
#[derive(Clone, Copy, Debug, Default)]
pub struct State<T>(pub T);

impl<S: HasState<T> + Sync, T: Clone + Send> FromRequest<S> for State<T> {
    async fn from_request(_req: &mut RequestParts, state: &S) -> Result<Self, Problem> {
        Ok(State(state.state().clone()))
    }
}

impl<S: Sync> FromRequest<S> for HeaderMap {
    async fn from_request(req: &mut RequestParts, _state: &S) -> Result<Self, Problem> {
        Ok(req.head.headers.clone())
    }
}

impl<S: Sync> FromRequest<S> for Method {
    async fn from_request(req: &mut RequestParts, _state: &S) -> Result<Self, Problem> {
        Ok(req.head.method.clone())
    }
}

impl<S: Sync> FromRequest<S> for Uri {
    async fn from_request(req: &mut RequestParts, _state: &S) -> Result<Self, Problem> {
        Ok(req.head.uri.clone())
    }
}

impl<S: Sync> FromRequest<S> for Bytes {
    const READS_BODY: bool = true;

    async fn from_request(req: &mut RequestParts, _state: &S) -> Result<Self, Problem> {
        req.read_body().await
    }

    fn describe(describe: &mut crate::openapi::Describe) {
        describe.raw_body("application/octet-stream");
    }
}

impl<S: Sync> FromRequest<S> for String {
    const READS_BODY: bool = true;

    async fn from_request(req: &mut RequestParts, _state: &S) -> Result<Self, Problem> {
        let body = req.read_body().await?;
        String::from_utf8(body.into())
            .map_err(|_| Problem::bad_request("the request body is not valid UTF-8"))
    }

    fn describe(describe: &mut crate::openapi::Describe) {
        describe.raw_body("text/plain");
    }
}

impl<S: Sync, T: FromRequest<S> + Send> FromRequest<S> for Option<T> {
    const READS_BODY: bool = T::READS_BODY;

    async fn from_request(req: &mut RequestParts, state: &S) -> Result<Self, Problem> {
        Ok(T::from_request(req, state).await.ok())
    }

    fn describe(describe: &mut crate::openapi::Describe) {
        T::describe(describe);
        describe.optional_body();
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Order {
        item: Item,
        count: u32,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Item {
        name: String,
    }

    #[test]
    fn malformed_json_is_400() {
        let problem = decode_json::<Order>(b"{\"count\": ").unwrap_err();
        assert_eq!(problem.status(), StatusCode::BAD_REQUEST);
        let problem = decode_json::<serde_json::Value>(b"{} trailing").unwrap_err();
        assert_eq!(problem.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn misfitting_json_is_422_naming_the_field() {
        let problem = decode_json::<Order>(br#"{"item": {"name": 5}, "count": 1}"#).unwrap_err();
        assert_eq!(problem.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem.field(), Some("item.name"));
        let problem = decode_json::<Order>(br#"{"item": {"name": "x"}}"#).unwrap_err();
        assert_eq!(problem.field(), Some("count"));
    }

    #[test]
    fn json_content_types() {
        let mut headers = HeaderMap::new();
        assert!(!is_json(&headers));
        for (value, expected) in [
            ("application/json", true),
            ("application/json; charset=utf-8", true),
            ("application/problem+json", true),
            ("text/plain", false),
            ("application/jsonx", false),
        ] {
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            assert_eq!(is_json(&headers), expected, "{value}");
        }
    }
}
