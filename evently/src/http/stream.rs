//! Responses that are sent as they are produced: chunked bodies and
//! server-sent events, usually written with `async_stream::stream!` and
//! `yield`.
//!
//! Each item goes out when it is yielded. The stream is polled only when the
//! connection can take more, so a slow client slows the stream down instead
//! of growing a buffer. Producers handed to a streaming handler publish
//! their `once_finished` messages after the stream ended.

use std::fmt::Write as _;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use http::header::{self, HeaderValue};
use http_body::Frame;

use super::{Body, BoxError, IntoResponse, Response};

/// Marks a response whose body is produced while it is sent.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Streaming;

/// A chunked body: each yielded item is one chunk.
///
/// ```
/// use evently::http::Chunks;
///
/// async fn count() -> Chunks<impl futures_util::Stream<Item = String>> {
///     Chunks::new(async_stream::stream! {
///         for n in 1..=3 {
///             yield format!("{n}\n");
///         }
///     })
/// }
/// ```
pub struct Chunks<S> {
    stream: S,
    content_type: HeaderValue,
}

impl<S> Chunks<S> {
    /// Chunks of `text/plain`.
    pub fn new(stream: S) -> Self {
        Chunks {
            stream,
            content_type: HeaderValue::from_static("text/plain; charset=utf-8"),
        }
    }

    /// Chunks of an HTML page.
    pub fn html(stream: S) -> Self {
        Chunks {
            stream,
            content_type: HeaderValue::from_static("text/html; charset=utf-8"),
        }
    }
}

impl<S, T> IntoResponse for Chunks<S>
where
    S: Stream<Item = T> + Send + 'static,
    T: Into<Bytes> + 'static,
{
    fn into_response(self) -> Response {
        let body = StreamBody {
            stream: Box::pin(self.stream),
            encode: Into::into,
        };
        streaming(body, self.content_type)
    }

    fn describe(describe: &mut crate::openapi::Describe) {
        describe.response("200", "text/plain");
    }
}

/// Server-sent events: each yielded item is one event.
pub struct Sse<S> {
    stream: S,
}

impl<S> Sse<S> {
    /// Events from a stream of [`Event`]s (or of anything that converts into
    /// one, such as `String`).
    pub fn new(stream: S) -> Self {
        Sse { stream }
    }
}

/// One server-sent event.
#[derive(Clone, Debug, Default)]
pub struct Event {
    name: Option<String>,
    id: Option<String>,
    data: String,
}

impl Event {
    /// An event carrying `data`.
    pub fn data(data: impl Into<String>) -> Self {
        Event {
            data: data.into(),
            ..Event::default()
        }
    }

    /// An event carrying `value` as JSON.
    ///
    /// # Errors
    ///
    /// When `value` cannot be encoded.
    pub fn json<T: serde::Serialize>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::to_string(value).map(Event::data)
    }

    /// Names the event (`event:`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the event id (`id:`), which a client resends when it reconnects.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    fn encode(self) -> Bytes {
        let mut text = String::with_capacity(self.data.len() + 16);
        if let Some(name) = &self.name {
            let _ = writeln!(text, "event: {}", single_line(name));
        }
        if let Some(id) = &self.id {
            let _ = writeln!(text, "id: {}", single_line(id));
        }
        for line in self.data.split('\n') {
            let _ = writeln!(text, "data: {}", line.trim_end_matches('\r'));
        }
        text.push('\n');
        text.into()
    }
}

fn single_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

impl From<String> for Event {
    fn from(data: String) -> Self {
        Event::data(data)
    }
}

impl From<&str> for Event {
    fn from(data: &str) -> Self {
        Event::data(data)
    }
}

impl<S, T> IntoResponse for Sse<S>
where
    S: Stream<Item = T> + Send + 'static,
    T: Into<Event> + 'static,
{
    fn into_response(self) -> Response {
        let body = StreamBody {
            stream: Box::pin(self.stream),
            encode: |item: T| item.into().encode(),
        };
        let mut response = streaming(body, HeaderValue::from_static("text/event-stream"));
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
    }

    fn describe(describe: &mut crate::openapi::Describe) {
        describe.response("200", "text/event-stream");
    }
}

fn streaming<B>(body: B, content_type: HeaderValue) -> Response
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let mut response = Response::new(Body::new(body));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    response.extensions_mut().insert(Streaming);
    response
}

struct StreamBody<S, F> {
    stream: Pin<Box<S>>,
    encode: F,
}

impl<S, F> http_body::Body for StreamBody<S, F>
where
    S: Stream,
    F: FnMut(S::Item) -> Bytes + Unpin,
{
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match this.stream.as_mut().poll_next(cx) {
            Poll::Ready(Some(item)) => Poll::Ready(Some(Ok(Frame::data((this.encode)(item))))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Publishing what a streaming handler produced, after its stream.
pub(crate) type Finish = Pin<Box<dyn std::future::Future<Output = Result<(), BoxError>> + Send>>;

/// A body that, once its stream ended, waits for `finish` (publishing the
/// handler's `once_finished` messages) before it ends too; if `finish`
/// fails the body fails, so the client sees an incomplete response.
pub(crate) struct FinishThen {
    pub(crate) body: Body,
    pub(crate) finish: Option<Finish>,
}

impl http_body::Body for FinishThen {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(None) => {}
            other => return other,
        }
        let Some(finish) = this.finish.as_mut() else {
            return Poll::Ready(None);
        };
        match finish.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(result) => {
                this.finish = None;
                match result {
                    Ok(()) => Poll::Ready(None),
                    Err(error) => Poll::Ready(Some(Err(error))),
                }
            }
        }
    }
}
