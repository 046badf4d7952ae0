//! The one error type of evently.

use std::fmt;
use std::net::SocketAddr;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why evently could not build or run a service.
///
/// The variants stay private so they can grow; ask with the `is_*` methods.
pub struct Error {
    kind: Kind,
}

enum Kind {
    /// Every invalid setting, each as `NAME: reason`.
    Config(Vec<String>),
    /// Every route the router refused, each with its reason.
    Topology(Vec<String>),
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn config(problems: Vec<String>) -> Self {
        Error {
            kind: Kind::Config(problems),
        }
    }

    pub(crate) fn topology(problems: Vec<String>) -> Self {
        Error {
            kind: Kind::Topology(problems),
        }
    }

    pub(crate) fn bind(addr: SocketAddr, source: std::io::Error) -> Self {
        Error {
            kind: Kind::Bind { addr, source },
        }
    }

    /// Whether a setting read from the environment was invalid.
    pub fn is_config(&self) -> bool {
        matches!(self.kind, Kind::Config(_))
    }

    /// Whether the declared topology could not be served.
    pub fn is_topology(&self) -> bool {
        matches!(self.kind, Kind::Topology(_))
    }

    /// Whether the listener could not be bound.
    pub fn is_bind(&self) -> bool {
        matches!(self.kind, Kind::Bind { .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Config(problems) => {
                write!(f, "invalid configuration: {}", problems.join("; "))
            }
            Kind::Topology(problems) => write!(f, "invalid topology: {}", problems.join("; ")),
            Kind::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
        }
    }
}

impl fmt::Debug for Error {
    // `main` returning `Err` prints `Debug`: keep it as readable as `Display`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::Bind { source, .. } => Some(source),
            _ => None,
        }
    }
}
