//! Reading request envelopes safely and writing response envelopes.
//!
//! A request is scanned with `quick_xml`'s pull reader before anything is
//! deserialized. The scan stops at the first event that is refused: a
//! DOCTYPE (and with it every entity declaration, internal or external), a
//! reference to an entity other than the five XML predefines, a processing
//! instruction, or nesting deeper than [`MAX_DEPTH`]. quick-xml expands no
//! entity on its own and never opens a file or a URL, so an XXE or
//! "billion laughs" payload is refused before it could do anything.

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

use super::Fault;

/// The deepest element nesting a request may have, the envelope included.
pub const MAX_DEPTH: usize = 64;

/// The SOAP version of a request, from its content type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Version {
    /// `text/xml`, with the action in the `SOAPAction` header.
    Soap11,
    /// `application/soap+xml`, with the action as a content-type parameter.
    Soap12,
}

impl Version {
    /// The envelope namespace.
    pub(crate) fn namespace(self) -> &'static str {
        match self {
            Version::Soap11 => "http://schemas.xmlsoap.org/soap/envelope/",
            Version::Soap12 => "http://www.w3.org/2003/05/soap-envelope",
        }
    }

    /// The content type of envelopes of this version.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Version::Soap11 => "text/xml; charset=utf-8",
            Version::Soap12 => "application/soap+xml; charset=utf-8",
        }
    }

    /// The version and the 1.2 `action` parameter of a content type, or
    /// `None` when the content type is neither SOAP version's.
    pub(crate) fn from_content_type(value: &str) -> Option<(Version, Option<String>)> {
        let mut parts = value.split(';');
        let media = parts.next().unwrap_or_default().trim();
        let version = if media.eq_ignore_ascii_case("text/xml") {
            Version::Soap11
        } else if media.eq_ignore_ascii_case("application/soap+xml") {
            Version::Soap12
        } else {
            return None;
        };
        let action = parts.find_map(|param| {
            let (name, value) = param.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("action")
                .then(|| unquote(value).to_owned())
        });
        Some((version, action))
    }
}

/// An action without the quotes SOAP 1.1 clients put around it.
pub(crate) fn unquote(action: &str) -> &str {
    let action = action.trim();
    action
        .strip_prefix('"')
        .and_then(|a| a.strip_suffix('"'))
        .unwrap_or(action)
}

/// The operation element of a request: its local name and its whole text.
#[derive(Debug)]
pub(crate) struct Operation<'a> {
    pub(crate) name: &'a str,
    pub(crate) xml: &'a str,
}

/// Scans a request envelope of `version`, refusing what is unsafe or not a
/// SOAP envelope, and finds the Body's first child element.
///
/// # Errors
///
/// A client fault naming the first thing that was wrong.
pub(crate) fn scan(xml: &str, version: Version) -> Result<Operation<'_>, Fault> {
    let mut reader = NsReader::from_str(xml);
    let mut depth = 0usize;
    let mut in_body = false;
    let mut seen_body = false;
    let mut start: Option<(usize, &str)> = None;
    let mut found: Option<Operation<'_>> = None;
    loop {
        let before = reader.buffer_position() as usize;
        let (is_envelope_ns, event) = match reader.read_resolved_event() {
            Ok((namespace, event)) => (
                matches!(namespace, ResolveResult::Bound(ns) if ns.into_inner() == version.namespace()),
                event,
            ),
            Err(error) => {
                return Err(Fault::client(format!(
                    "the request is not well-formed XML (at byte {}): {error}",
                    reader.error_position()
                )));
            }
        };
        let empty = matches!(event, Event::Empty(_));
        match event {
            Event::DocType(_) => {
                return Err(Fault::client(
                    "the request has a DOCTYPE; SOAP messages may not declare a document \
                     type or entities",
                ));
            }
            Event::GeneralRef(reference) => {
                let name: &str = &reference;
                let predefined = matches!(name, "amp" | "lt" | "gt" | "quot" | "apos");
                if !predefined && !name.starts_with('#') {
                    return Err(Fault::client(format!(
                        "the request refers to the undeclared entity `&{name};`; only the \
                         five predefined XML entities and character references are allowed"
                    )));
                }
            }
            Event::PI(_) => {
                return Err(Fault::client(
                    "the request holds a processing instruction; SOAP messages may not",
                ));
            }
            Event::Start(ref element) | Event::Empty(ref element) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(Fault::client(format!(
                        "the request nests elements deeper than the limit of {MAX_DEPTH}"
                    )));
                }
                let local = local_name(xml, before, element);
                match depth {
                    1 if local != "Envelope" || !is_envelope_ns => {
                        return Err(Fault::client(format!(
                            "the document is not a SOAP {} envelope: expected an `Envelope` \
                             element in `{}`",
                            version.number(),
                            version.namespace()
                        )));
                    }
                    2 if local == "Body" && is_envelope_ns => {
                        in_body = !empty;
                        seen_body = true;
                    }
                    3 if in_body && start.is_none() && found.is_none() => {
                        if empty {
                            let end = reader.buffer_position() as usize;
                            found = Some(Operation {
                                name: local,
                                xml: &xml[before..end],
                            });
                        } else {
                            start = Some((before, local));
                        }
                    }
                    _ => {}
                }
                if empty {
                    depth -= 1;
                }
            }
            Event::End(_) => {
                if depth == 3
                    && let Some((from, name)) = start.take()
                {
                    let end = reader.buffer_position() as usize;
                    found = Some(Operation {
                        name,
                        xml: &xml[from..end],
                    });
                }
                if depth == 2 {
                    in_body = false;
                }
                depth = depth.saturating_sub(1);
            }
            Event::Eof => break,
            Event::Text(_) | Event::CData(_) | Event::Comment(_) | Event::Decl(_) => {}
        }
    }
    if !seen_body {
        return Err(Fault::client("the envelope has no `Body`"));
    }
    found.ok_or_else(|| Fault::client("the envelope's `Body` holds no operation element"))
}

/// The local name of the element whose tag starts at `from`, borrowed from
/// the document itself so that it outlives the reader's event.
fn local_name<'a>(xml: &'a str, from: usize, element: &BytesStart<'_>) -> &'a str {
    let qualified = element.name().as_ref().len();
    let local = element.local_name().as_ref().len();
    &xml[from + 1 + qualified - local..from + 1 + qualified]
}

impl Version {
    fn number(self) -> &'static str {
        match self {
            Version::Soap11 => "1.1",
            Version::Soap12 => "1.2",
        }
    }
}

/// A response envelope around the already serialized `body`; `tns` is the
/// prefix the body's element uses for the service's namespace.
pub(crate) fn response(version: Version, namespace: &str, body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"{}\" \
         xmlns:tns=\"{}\"><soap:Body>{body}</soap:Body></soap:Envelope>",
        version.namespace(),
        quick_xml::escape::escape(namespace),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const V11: &str = "http://schemas.xmlsoap.org/soap/envelope/";

    fn envelope(body: &str) -> String {
        format!("<s:Envelope xmlns:s=\"{V11}\"><s:Header/><s:Body>{body}</s:Body></s:Envelope>")
    }

    #[test]
    fn finds_the_operation_element() {
        let xml = envelope("<t:Add xmlns:t=\"urn:x\"><a>1</a><b>2</b></t:Add>");
        let op = scan(&xml, Version::Soap11).unwrap();
        assert_eq!(op.name, "Add");
        assert_eq!(op.xml, "<t:Add xmlns:t=\"urn:x\"><a>1</a><b>2</b></t:Add>");
        let xml = envelope("<Ping/>");
        assert_eq!(scan(&xml, Version::Soap11).unwrap().xml, "<Ping/>");
    }

    #[test]
    fn refuses_doctypes_entities_and_depth() {
        let doctype = format!("<!DOCTYPE x [<!ENTITY e \"y\">]>{}", envelope("<Add/>"));
        assert!(
            scan(&doctype, Version::Soap11)
                .unwrap_err()
                .reason()
                .contains("DOCTYPE")
        );
        let entity = envelope("<Add><a>&e;</a></Add>");
        assert!(
            scan(&entity, Version::Soap11)
                .unwrap_err()
                .reason()
                .contains("&e;")
        );
        let deep = envelope(&format!("{}{}", "<x>".repeat(70), "</x>".repeat(70)));
        assert!(
            scan(&deep, Version::Soap11)
                .unwrap_err()
                .reason()
                .contains("deeper")
        );
    }

    #[test]
    fn refuses_the_wrong_envelope() {
        let xml = envelope("<Add/>");
        assert!(
            scan(&xml, Version::Soap12)
                .unwrap_err()
                .reason()
                .contains("1.2")
        );
        assert!(scan("<Add/>", Version::Soap11).is_err());
        assert!(scan("<a><b></a>", Version::Soap11).is_err());
    }

    #[test]
    fn reads_content_types() {
        let (version, action) =
            Version::from_content_type("application/soap+xml; charset=utf-8; action=\"urn:x/Add\"")
                .unwrap();
        assert_eq!(
            (version, action.as_deref()),
            (Version::Soap12, Some("urn:x/Add"))
        );
        assert_eq!(
            Version::from_content_type("text/xml").map(|v| v.0),
            Some(Version::Soap11)
        );
        assert!(Version::from_content_type("application/json").is_none());
    }
}
