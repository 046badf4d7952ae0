//! SOAP faults: what a failed operation answers, in either SOAP version.

use std::fmt::Display;

use http::StatusCode;
use quick_xml::escape::escape;

use super::envelope::Version;

/// A SOAP fault: the error an operation answers with.
///
/// A *client* fault says the request was wrong and sending it again will
/// not help (`soap:Client` in SOAP 1.1, `soap:Sender` in 1.2, HTTP 400 in
/// 1.2); a *server* fault says the service failed (`soap:Server` /
/// `soap:Receiver`, HTTP 500). SOAP 1.1 answers every fault with HTTP 500,
/// as its specification says.
///
/// `Fault` deliberately does not implement `Display`: handlers may return
/// any `E: Display` error, which becomes a server fault whose text is
/// logged rather than sent, and `Fault` is the one error type whose reason
/// reaches the client as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    client: bool,
    reason: String,
}

impl Fault {
    /// A fault blaming the request, such as a division by zero.
    pub fn client(reason: impl Into<String>) -> Self {
        Fault {
            client: true,
            reason: reason.into(),
        }
    }

    /// A fault blaming the service.
    pub fn server(reason: impl Into<String>) -> Self {
        Fault {
            client: false,
            reason: reason.into(),
        }
    }

    /// Whether the fault blames the request.
    pub fn is_client(&self) -> bool {
        self.client
    }

    /// The reason sent to the client.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The HTTP status this fault is sent with in `version`.
    pub(crate) fn status(&self, version: Version) -> StatusCode {
        match version {
            Version::Soap12 if self.client => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The fault as a whole envelope of `version`.
    pub(crate) fn to_envelope(&self, version: Version) -> String {
        let reason = escape(self.reason.as_str());
        let namespace = version.namespace();
        match version {
            Version::Soap11 => {
                let code = if self.client { "Client" } else { "Server" };
                format!(
                    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
                     <soap:Envelope xmlns:soap=\"{namespace}\"><soap:Body><soap:Fault>\
                     <faultcode>soap:{code}</faultcode><faultstring>{reason}</faultstring>\
                     </soap:Fault></soap:Body></soap:Envelope>"
                )
            }
            Version::Soap12 => {
                let code = if self.client { "Sender" } else { "Receiver" };
                format!(
                    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
                     <soap:Envelope xmlns:soap=\"{namespace}\"><soap:Body><soap:Fault>\
                     <soap:Code><soap:Value>soap:{code}</soap:Value></soap:Code>\
                     <soap:Reason><soap:Text xml:lang=\"en\">{reason}</soap:Text></soap:Reason>\
                     </soap:Fault></soap:Body></soap:Envelope>"
                )
            }
        }
    }
}

/// An error a SOAP handler may return: a [`Fault`], sent as it is, or any
/// `E: Display`, logged and answered with a server fault that does not
/// reveal it.
pub trait IntoFault {
    /// The fault sent to the client.
    fn into_fault(self) -> Fault;
}

impl IntoFault for Fault {
    fn into_fault(self) -> Fault {
        self
    }
}

impl<E: Display> IntoFault for E {
    fn into_fault(self) -> Fault {
        tracing::error!(error = %self, "soap handler failed");
        Fault::server("the service failed to carry out the operation")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_faults_name_the_sender_and_escape_the_reason() {
        let fault = Fault::client("b is 0 & a < 1");
        let v11 = fault.to_envelope(Version::Soap11);
        assert!(v11.contains("<faultcode>soap:Client</faultcode>"), "{v11}");
        assert!(v11.contains("b is 0 &amp; a &lt; 1"), "{v11}");
        let v12 = fault.to_envelope(Version::Soap12);
        assert!(
            v12.contains("<soap:Value>soap:Sender</soap:Value>"),
            "{v12}"
        );
        assert_eq!(
            fault.status(Version::Soap11),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(fault.status(Version::Soap12), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn other_errors_become_server_faults() {
        let fault = std::io::Error::other("disk on fire").into_fault();
        assert!(!fault.is_client());
        assert!(!fault.reason().contains("disk"));
    }
}
