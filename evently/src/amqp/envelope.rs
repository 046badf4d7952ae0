//! A message as evently moves it, whichever broker carries it.

use std::collections::BTreeMap;

use bytes::Bytes;

/// A message's payload and properties.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Envelope {
    pub(crate) payload: Bytes,
    pub(crate) message_id: Option<String>,
    pub(crate) correlation_id: Option<String>,
    /// Seconds since the Unix epoch.
    pub(crate) timestamp: Option<u64>,
    pub(crate) content_type: Option<String>,
    pub(crate) headers: BTreeMap<String, HeaderValue>,
}

impl Envelope {
    /// A JSON message with a fresh id and the current time.
    pub(crate) fn json(
        payload: Bytes,
        correlation_id: Option<String>,
        headers: BTreeMap<String, HeaderValue>,
    ) -> Envelope {
        Envelope {
            payload,
            message_id: Some(super::producer::message_id()),
            correlation_id,
            timestamp: Some(super::producer::now()),
            content_type: Some("application/json".to_owned()),
            headers,
        }
    }
}

/// A header value: the two kinds evently writes and reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HeaderValue {
    Text(String),
    Int(i64),
}

/// How an exchange routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExchangeKind {
    /// The routing key equals the binding key.
    Direct,
    /// Every bound queue.
    Fanout,
    /// Dotted words; `*` matches one word, `#` zero or more.
    Topic,
}
