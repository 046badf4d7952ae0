//! The broker URL, kept away from logs.

use std::fmt;

/// Where the broker is: in process, or a RabbitMQ URL.
///
/// `Debug` and `Display` hide the password, so a URL can be logged and
/// carried in errors without leaking it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum BrokerUrl {
    Memory,
    Amqp { url: String, redacted: String },
}

impl BrokerUrl {
    pub(crate) fn parse(value: &str) -> Result<Self, String> {
        if value == "memory://" || value == "memory" {
            return Ok(BrokerUrl::Memory);
        }
        let redacted = redact(value);
        if !value.starts_with("amqp://") {
            return Err(format!(
                "expected memory:// or amqp://user:password@host:port/vhost, found {redacted}"
            ));
        }
        // lapin's own parse errors may quote the URL, password included.
        if value.parse::<lapin::uri::AMQPUri>().is_err() {
            return Err(format!("not a valid AMQP URL: {redacted}"));
        }
        Ok(BrokerUrl::Amqp {
            url: value.to_owned(),
            redacted,
        })
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BrokerUrl::Memory => f.write_str("memory://"),
            BrokerUrl::Amqp { redacted, .. } => f.write_str(redacted),
        }
    }
}

impl fmt::Debug for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `scheme://user:secret@host` becomes `scheme://user:***@host`.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some(at) = rest.rfind('@') else {
        return url.to_owned();
    };
    let (userinfo, host) = rest.split_at(at);
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let url = BrokerUrl::parse("amqp://guest:s3cret@127.0.0.1:5672/%2f").unwrap();
        assert_eq!(url.to_string(), "amqp://guest:***@127.0.0.1:5672/%2f");
        assert!(!format!("{url:?}").contains("s3cret"));
        let error = BrokerUrl::parse("amqp://guest:s3cret@127.0.0.1:notaport").unwrap_err();
        assert!(!error.contains("s3cret"), "{error}");
        let error = BrokerUrl::parse("http://guest:s3cret@host").unwrap_err();
        assert!(!error.contains("s3cret"), "{error}");
    }

    #[test]
    fn memory_is_its_own_scheme() {
        assert_eq!(BrokerUrl::parse("memory://").unwrap(), BrokerUrl::Memory);
        assert_eq!(redact("amqp://host:5672"), "amqp://host:5672");
    }
}
